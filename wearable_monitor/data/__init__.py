"""Records in: the record contract, validation, file readers and device importers."""
