"""The verdict layer: findings from every evidence source and the one verdict over them."""
