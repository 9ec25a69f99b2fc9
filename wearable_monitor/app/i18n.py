"""The app's own string table (English / Chinese), switchable from a radio in the page.

Why not `gr.I18n`: it picks the language from the browser locale once per page load, but
the product wants a visible zh/en switch that also re-renders the LLM text, so labels are
plain strings from `t()` and the switch returns `gr.update(label=...)` for each component.
Gradio's own strings (file box, footer, settings) follow the browser's locale through Gradio's
i18n; a Chinese browser also opens the page in Chinese (ui.py, `demo.load`).

Besides `STRINGS`: the shipped presets' names and descriptions (`PRESET_TEXT`), table headers
(`COLUMN_WORDS`), About rows (`ABOUT_FACTS`), chart channel names (`FEATURE_WORDS`) and the
known input errors (`localize_error`).
"""
from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "zh")

STRINGS: dict[str, tuple[str, str]] = {
    # page
    "title": ("Wearable TimeSeries Health Monitor", "可穿戴时序健康监测"),
    "intro": ("Personalised anomaly screening of 5-minute wearable records (heart rate, HRV, respiration, "
              "SpO2, steps, sleep). One model serves many users; each user is compared with a baseline that "
              "becomes personal as days of history accumulate.",
              "对 5 分钟粒度的可穿戴数据（心率、HRV、呼吸、血氧、步数、睡眠）做个性化异常筛查。一个模型服务多位用户；"
              "随着历史天数增加，每位用户的对照基线逐渐个性化。"),
    "disclaimer": ("⚠️ **Screening aid, not a medical device and not a diagnosis.** A flag means \"worth a look\", "
                   "not \"you are ill\"; no flag does not mean \"you are well\". See a doctor about any health concern.",
                   "⚠️ **本工具仅用于筛查辅助，不是医疗器械，也不提供诊断。** 提示只表示“值得关注”，不代表患病；"
                   "没有提示也不代表健康。如有任何健康疑虑请咨询医生。"),
    "language": ("Language / 语言", "Language / 语言"),
    # tabs
    "tab_window": ("Real-time window", "实时窗口"),
    "tab_upload": ("Upload a case", "上传数据"),
    "tab_cases": ("PatchTrAD cases", "PatchTrAD 案例"),
    "tab_users": ("Users and baselines", "用户与基线"),
    "tab_about": ("About", "关于"),
    # real-time window
    "window_help": ("Pick a preset or paste a window: a JSON list of 12 five-minute records, or "
                    "`{\"window\": [...], \"history\": [...]}` (the history is replayed first to build the "
                    "personal baseline).",
                    "选择预设，或粘贴一个窗口：12 条 5 分钟记录的 JSON 列表，或 "
                    "`{\"window\": [...], \"history\": [...]}`（先回放历史以建立个人基线）。"),
    "preset": ("Preset", "预设"),
    "run_preset": ("Run preset (with its history)", "运行预设（含历史）"),
    "window_json": ("Window JSON", "窗口 JSON"),
    "run_window": ("Score this JSON", "检测此 JSON"),
    "threshold": ("Threshold", "阈值"),
    "threshold_info": ("Empty/default = the checkpoint's calibrated threshold", "默认为模型校准阈值"),
    "verdict": ("Verdict", "结论"),
    "result_json": ("Result JSON", "结果 JSON"),
    "window_chart": ("Window vs personal baseline", "窗口与个人基线"),
    "drivers": ("Features that drove the score", "主要贡献特征"),
    "llm_text": ("LLM-ready Markdown", "供大模型使用的 Markdown"),
    "no_presets": ("No presets found in {dir} (presets.json / preset_*.json).", "在 {dir} 中没有找到预设。"),
    # verdicts
    "anomaly": ("🔴 Anomaly flagged", "🔴 检测到异常"),
    "normal": ("🟢 Within the expected range", "🟢 在预期范围内"),
    "level_normal": ("🟢 Normal: within the expected range", "🟢 正常：在预期范围内"),
    "level_watch": ("🟡 Watch: something is off the usual range", "🟡 留意：有指标偏离平常范围"),
    "level_alert": ("🔴 Alert: clear deviation", "🔴 警示：明显偏离"),
    "level_urgent": ("🚨 Urgent: far outside the clinical range", "🚨 紧急：远超临床范围"),
    "reasons": ("Why", "原因"),
    "screening_note": ("Screening aid, not a diagnosis.", "筛查辅助工具，并非诊断。"),
    "score_line": ("model score **{score:.3f}** vs threshold **{threshold:.3f}** · user **{user}** · {start} → {end} "
                   "({period}) · baseline: {source} (personal weight {alpha:.0%}, {days} days of history)",
                   "模型得分 **{score:.3f}**，阈值 **{threshold:.3f}** · 用户 **{user}** · {start} → {end}（{period}）"
                   " · 基线：{source}（个人权重 {alpha:.0%}，历史 {days} 天）"),
    "quality_line": ("Data quality: {missing:.0%} of values missing, longest gap {gap:g} min.",
                     "数据质量：缺失 {missing:.0%}，最长间隔 {gap:g} 分钟。"),
    # upload
    "upload_help": ("Upload a JSONL history (one record per line, one or many users by `deviceId`), a CSV "
                    "with one record per row (`timestamp`, `deviceId`, one column per feature), or a "
                    "Fitbit pair `<ID>_hr.csv` + `<ID>_steps.csv` (select both files). Limits: {mb} MB, "
                    "{records:,} records. Or drop a device export as it came from the phone (Apple Health "
                    "`export.zip` up to 2.5 GB, Fitbit Takeout `.zip`, `Health Connect.zip`, Garmin `.fit`, "
                    "Oura JSON): see About.",
                    "上传 JSONL 历史（每行一条记录，可含多位用户，按 `deviceId` 区分）、每行一条记录的 CSV"
                    "（`timestamp`、`deviceId`、每个特征一列），或 Fitbit 文件对 "
                    "`<ID>_hr.csv` + `<ID>_steps.csv`（同时选择两个文件）。限制：{mb} MB，{records:,} 条记录。"
                    "也可直接上传手机导出的设备数据（Apple 健康 `export.zip`，最大 2.5 GB；Fitbit Takeout `.zip`；"
                    "`Health Connect.zip`；Garmin `.fit`；Oura JSON），详见“关于”。"),
    "byod_title": ("Bring your own data", "使用您自己的数据"),
    "byod_table": (
        "| Device | What to export, and how | What is read | What is not |\n|---|---|---|---|\n"
        "| Apple Watch / iPhone | Health app > profile > Export All Health Data; upload `export.zip` as is | "
        "heart rate, resting HR, HRV (SDNN), SpO2, respiratory rate, steps, distance, active energy, sleeping "
        "wrist temperature, sleep stages | workouts, ECG, other types (listed in the import report) |\n"
        "| Fitbit (Google account) | takeout.google.com > Fitbit; upload the Takeout `.zip` | heart rate, steps "
        "(resting HR by the no-steps rule), sleep stages, minute SpO2, HRV (RMSSD) | calories, distance, "
        "weight, daily summaries |\n"
        "| Android (Pixel Watch, Samsung, ...) | Health Connect > Export; upload `Health Connect.zip` | heart rate, "
        "resting HR, HRV (RMSSD), SpO2, respiratory rate, steps, sleep stages | other tables |\n"
        "| Garmin | Garmin Connect account export (`DI-Connect-Wellness` .fit files) or a device's `Monitor` .fit | "
        "heart rate, steps, HR at rest by stress level | activities, sleep, SpO2 in FIT |\n"
        "| Oura | API v2 `heartrate` (+ `daily_spo2`) JSON, or the heart-rate CSV | heart rate (rest/sleep "
        "also as resting HR), nightly SpO2 | readiness, daily trend CSV |",
        "| 设备 | 导出什么、如何导出 | 读取 | 不读取 |\n|---|---|---|---|\n"
        "| Apple Watch / iPhone | 健康 App > 头像 > 导出所有健康数据；直接上传 `export.zip` | 心率、静息心率、HRV（SDNN）、"
        "血氧、呼吸频率、步数、距离、活动能量、睡眠手腕温度、睡眠阶段 | 体能训练、心电图及其他类型（见导入报告） |\n"
        "| Fitbit（Google 帐号） | takeout.google.com > Fitbit；上传 Takeout `.zip` | 心率、步数（静息心率按无步数规则）、"
        "睡眠阶段、每分钟血氧、HRV（RMSSD） | 卡路里、距离、体重、每日汇总 |\n"
        "| Android（Pixel Watch、三星等） | Health Connect > 导出；上传 `Health Connect.zip` | 心率、静息心率、"
        "HRV（RMSSD）、血氧、呼吸频率、步数、睡眠阶段 | 其他数据表 |\n"
        "| Garmin | Garmin Connect 帐号导出（`DI-Connect-Wellness` 中的 .fit）或设备 `Monitor` 目录 .fit | 心率、步数、"
        "按压力水平判定的静息心率 | 运动记录、FIT 中的睡眠与血氧 |\n"
        "| Oura | API v2 `heartrate`（及 `daily_spo2`）JSON，或心率 CSV | 心率（rest/sleep 亦作静息心率）、夜间血氧 | "
        "准备度、每日趋势 CSV |"),
    "files": ("History file(s)", "历史文件"),
    "analyze": ("Validate and score", "校验并评分"),
    "files_ready": ("Ready to score: {names}", "待评分：{names}"),
    "status": ("Status", "状态"),
    "validation": ("Validation report", "校验报告"),
    "user": ("User", "用户"),
    "timeline": ("Timeline", "时间线"),
    "daily_table": ("Per-day pattern", "每日模式"),
    "baseline_evolution": ("Baseline evolution", "基线演变"),
    "rule_findings": ("Rule findings (daily values derived from the 5-minute data)",
                      "规则发现（由 5 分钟数据推导的每日数值）"),
    "download": ("Scores (CSV)", "评分（CSV）"),
    "analysis_done": ("✅ Scored {windows:,} windows of {users} user(s) over {days} user-days; {alerts} alert day(s).",
                      "✅ 已为 {users} 位用户的 {windows:,} 个窗口评分，共 {days} 个用户日；{alerts} 个提醒日。"),
    "skipped_users": ("⚠️ Not scored, fewer than the {window} records one window needs: {users}.",
                      "⚠️ 未评分（记录少于一个窗口所需的 {window} 条）：{users}。"),
    "derived_note": ("Derived daily values: resting HR = median of the day's resting 5-minute HR (≥ {min_rest} "
                     "values); sleep hours = asleep 5-minute records from noon to noon, labelled by the morning "
                     "(≥ {cov:.0%} of the night observed). Exercise minutes from steps are not reliable: not "
                     "available. Weight, blood pressure and nutrition need daily logs: not available.",
                     "推导的每日数值：静息心率 = 当天静息 5 分钟心率的中位数（至少 {min_rest} 个值）；睡眠时长 = 正午至次日正午"
                     "之间处于睡眠状态的 5 分钟记录，按醒来当天计（夜间至少 {cov:.0%} 有数据）。由步数推算运动时长不可靠：不提供。"
                     "体重、血压、营养需要每日记录：不提供。"),
    "no_findings": ("No rule findings for the derived daily values.", "推导的每日数值没有触发规则。"),
    # cases
    "case": ("Case", "案例"),
    "refresh": ("Refresh", "刷新"),
    "prescreen_chart": ("Prescreen score (PatchTrAD)", "预筛得分（PatchTrAD）"),
    "case_json": ("Case JSON", "案例 JSON"),
    "llm_input": ("LLM input", "大模型输入"),
    "no_cases": ("No PatchTrAD cases yet: `{dir}/manifest.json` is missing or empty. Create one with "
                 "`wearable-monitor cases --mode all --data-file data.jsonl --save-dir {dir} --sample-name NAME`.",
                 "暂无 PatchTrAD 案例：`{dir}/manifest.json` 不存在或为空。可用 "
                 "`wearable-monitor cases --mode all --data-file data.jsonl --save-dir {dir} --sample-name NAME` 生成。"),
    "case_info": ("**{title}** · source: {source} · created {created}", "**{title}** · 来源：{source} · 创建于 {created}"),
    # users
    "users_help": ("Every user scored in this app (presets, pasted windows, uploads) has a baseline in the "
                   "SQLite store. Personal weight grows with days of history; the blend is what the detector uses.",
                   "本应用中评分过的每位用户（预设、粘贴窗口、上传）在 SQLite 库中都有基线。个人权重随历史天数增加；"
                   "检测器使用的是混合基线。"),
    "metric": ("Metric", "指标"),
    "baselines_table": ("Baselines per metric (personal / group / blend)", "各指标基线（个人 / 群体 / 混合）"),
    "baseline_history": ("Baseline history", "基线历史"),
    "reset": ("Reset this user", "重置该用户"),
    "reset_done": ("User **{user}** was reset (baselines and history forgotten).", "用户 **{user}** 已重置（基线与历史已清除）。"),
    "findings_table": ("Rule findings of this user", "该用户的规则发现"),
    "finding_id": ("Finding id", "发现编号"),
    "confirm": ("Confirm", "确认属实"),
    "false_alarm": ("False alarm", "误报"),
    "feedback_done": ("Feedback recorded for finding {id}: {verdict}.", "已记录发现 {id} 的反馈：{verdict}。"),
    "no_user": ("No users yet: run a preset or upload a case first.", "暂无用户：请先运行预设或上传数据。"),
    "pick_finding": ("Pick a finding id first.", "请先选择一个发现编号。"),
    # about
    "about_model": ("Model card (from the shipped checkpoint's `summary.json`)", "模型卡（来自随附检查点的 `summary.json`）"),
    "client_usage": ("Call the app from Python", "从 Python 调用"),
    "llm_short": ("LLM-ready Markdown, short (for a chat box)", "供大模型使用的 Markdown（简短版，适合聊天框）"),
    "llm_full": ("LLM-ready Markdown, full", "供大模型使用的 Markdown（完整版）"),
    "markers": ("Events (one per line: date kind note)", "事件（每行一条：日期 类型 备注）"),
    "markers_help": ("Dated events you know of (symptom onset, a positive test, a vaccination, travel, alcohol, "
                     "hard training) are drawn on the timeline and listed in the LLM text. An alert on a day with an "
                     "event is explained by it, so it is not called a false alarm.",
                     "您知道的带日期事件（症状出现、检测阳性、接种疫苗、旅行、饮酒、高强度训练）会画在时间线上，并列入大模型文本。"
                     "有事件的那天出现警示，可由该事件解释，因此不算误报。"),
    "marker_date": ("Event date (YYYY-MM-DD)", "事件日期（年-月-日）"),
    "marker_kind": ("Event kind", "事件类型"),
    "marker_note": ("Note (optional)", "备注（可选）"),
    "add_marker": ("Add event", "添加事件"),
    "preset_history": (" · history: {n:,} records", " · 历史：{n:,} 条记录"),
    "day_value": ("the day's own mean", "当天的实测均值"),
    "no_personal_history": ("{metric}: no personal history yet", "{metric}：尚无个人历史"),
    "profile": ("profile", "资料"),
    "days_word": ("days", "天"),
    "sensitivity_line": ("rule {rule}: sensitivity {old:.2f} → {new:.2f} (precision {precision:.2f})",
                         "规则 {rule}：灵敏度 {old:.2f} → {new:.2f}（精确率 {precision:.2f}）"),
    "threshold_far": ("The chosen threshold is far from the calibrated one.", "所选阈值与校准阈值相差较大。"),
    # about
    "no_card": ("summary.json not found.", "未找到 summary.json。"),
    "fact": ("fact", "项目"),
    "value": ("value", "数值"),
    "test_metrics": ("Test metrics (held-out simulated users)", "测试指标（留出的模拟用户）"),
    "endpoints": ("Endpoints: `/detect_window` (window JSON text, threshold -> result JSON), `/analyze_history` "
                  "(file and second_file of a Fitbit pair, threshold, events, summary_only -> summary, per-day table, findings, "
                  "LLM text short and full), `/explain_history` (file, second_file, language, length, events -> "
                  "LLM-ready Markdown). "
                  "The page footer's \"Use via API\" lists every parameter with an example.",
                  "接口：`/detect_window`（窗口 JSON 文本、阈值 -> 结果 JSON）；`/analyze_history`（历史文件及 Fitbit 文件对的第二个文件、阈值、事件、"
                  "`summary_only` -> 摘要、每日表、规则发现、简短与完整的大模型文本）；`/explain_history`（历史文件、语言、长度、"
                  "事件 -> 供大模型使用的 Markdown）。页面底部的“通过 API 使用”列出每个参数及示例。"),
    "mcp_title": ("Use from an LLM agent (MCP)", "供大模型智能体使用（MCP）"),
    "mcp_help": ("The app is also an MCP server (streamable HTTP) at `/gradio_api/mcp/`: the tools `detect_window`, "
                 "`analyze_history` and `explain_history` take the same parameters as the API.",
                 "本应用同时是 MCP 服务器（`streamable HTTP`），地址为 `/gradio_api/mcp/`：工具 `detect_window`、"
                 "`analyze_history` 与 `explain_history` 的参数与 API 相同。"),
    # errors
    "error": ("⚠️ {msg}", "⚠️ {msg}"),
    "error_internal": ("Something went wrong while processing the input ({kind}: {msg}). Please check the input "
                       "and try again.", "处理输入时出错（{kind}：{msg}）。请检查输入后重试。"),
    "empty_input": ("Nothing to score: paste a window or pick a preset.", "没有可检测的内容：请粘贴窗口或选择预设。"),
    "no_file": ("Upload a file first.", "请先上传文件。"),
    "fitbit_pair": ("A Fitbit upload needs both files of the pair: `<ID>_hr.csv` and `<ID>_steps.csv`.",
                    "Fitbit 上传需要同时包含 `<ID>_hr.csv` 与 `<ID>_steps.csv` 两个文件。"),
    "too_many_files": ("Upload one JSONL or CSV file, or one Fitbit CSV pair.",
                       "请上传一个 JSONL 或 CSV 文件，或一对 Fitbit CSV 文件。"),
    # chart words
    "score": ("anomaly score", "异常得分"),
    "threshold_word": ("threshold", "阈值"),
    "baseline_band": ("baseline ± 1 sd", "基线 ± 1 标准差"),
    "alert_period": ("alert days", "提醒日"),
    "personal_weight": ("personal weight α", "个人权重 α"),
    "group_weight": ("group weight 1-α", "群体权重 1-α"),
    "segments": ("flagged segments", "标记片段"),
    "time": ("time", "时间"),
    "personal": ("personal", "个人"),
    "group": ("group", "群体"),
    "blend": ("blend", "混合"),
}

#: the shipped presets' names and descriptions (presets.json may hold developer notes; these are for people)
PRESET_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "example": {"title": ("Example window", "示例窗口"),
                "description": ("A quiet daytime hour with every main channel present.",
                                "安静的白天一小时，所有主要通道都有数据。")},
    "normal": {"title": ("Normal day", "正常的一天"),
               "description": ("An ordinary late-morning hour including a short walk: heart rate rises with steps, "
                               "which is activity, not an anomaly.",
                               "普通的上午一小时，包括一次短距离步行：心率随步数上升，这是活动，不是异常。")},
    "short_term": {"title": ("Short-term anomaly", "短期异常"),
                   "description": ("An acute episode at rest (17:50-18:25): heart rate sharply up and HRV down with "
                                   "no steps; the event fills the second half of the window.",
                                   "静息时的急性发作（17:50-18:25）：没有步数，心率骤升、HRV 下降；事件占据窗口的后半段。")},
    "long_term": {"title": ("Multi-day illness", "多日患病"),
                  "description": ("A night on day 3 of a 5-day illness: resting heart rate up, HRV down, respiration "
                                  "up. Nine days of history come first, so personal baselines exist.",
                                  "5 天患病期第 3 天的夜间：静息心率升高、HRV 下降、呼吸频率升高。先回放 9 天历史，因此已有个人基线。")},
    "missing": {"title": ("Gaps and missing channels", "数据间断与缺失通道"),
                "description": ("A daytime window from a watch without SpO2 or skin-temperature sensors, with absent "
                                "records and a low-quality stretch. Missing data is not an anomaly.",
                                "来自没有血氧和皮肤温度传感器的手表的白天窗口，有缺失记录和一段低质量数据。数据缺失不是异常。")},
}

#: the shipped PatchTrAD cases' titles (demo_patchad_cases/manifest.json holds one language per case)
CASE_TITLES: dict[str, tuple[str, str]] = {
    "sim_acute": ("Simulated: acute episode (palpitations at rest)", "模拟：急性发作（静息时心悸）"),
    "sim_illness": ("Simulated: multi-day illness (resting heart rate up)", "模拟：多日疾病（静息心率升高）"),
    "sim_desaturation": ("Simulated: night-time SpO2 desaturation (missed by the prescreen)",
                         "模拟：夜间血氧下降（预筛未检出）"),
    "sim_exercise": ("Simulated: hard training day, no health event (false-alarm check)",
                     "模拟：高强度训练日，无健康事件（误报检查）"),
    "fitbit_A0NVTRV": ("Real Fitbit: A0NVTRV around COVID-19 symptom onset (2020-04-20)",
                       "真实 Fitbit 数据：A0NVTRV 在 COVID-19 症状出现（2020-04-20）前后"),
}

#: column ids of the page's tables -> (English header, Chinese header)
COLUMN_WORDS: dict[str, tuple[str, str]] = {
    "feature": ("feature", "特征"), "importance": ("importance", "重要性"), "value": ("value", "数值"),
    "unit": ("unit", "单位"), "baseline_mean": ("baseline mean", "基线均值"), "baseline_std": ("baseline sd", "基线标准差"),
    "z_score": ("z score", "z 分数"), "id": ("id", "编号"), "user_id": ("user", "用户"), "rule": ("rule", "规则"),
    "metric": ("metric", "指标"), "status": ("status", "状态"), "severity": ("severity", "严重程度"),
    "start": ("start", "开始"), "end": ("end", "结束"), "title": ("title", "标题"), "date": ("date", "日期"),
    "level": ("level", "等级"), "reasons": ("reasons", "原因"), "markers": ("events", "事件"),
    "explained_by_marker": ("explained by an event (not a false alarm)", "可由事件解释（不算误报）"),
    "windows": ("windows", "窗口数"), "anomalous_windows": ("anomalous windows", "异常窗口数"),
    "anomaly_share": ("anomaly share", "异常占比"), "day_score": ("day score", "日得分"),
    "reference_score": ("reference score", "参考得分"), "sufficient": ("enough data", "数据充足"),
    "limited_channels": ("heart rate and steps only", "仅心率与步数"), "model_anomalous": ("model flag", "模型标记"),
    "vitals_flags": ("vitals flags", "生命体征标记"), "is_anomalous_day": ("anomalous day", "异常日"),
    "pattern_days": ("days in a row", "连续天数"), "alert": ("alert", "警示"), "trend": ("trend", "趋势"),
    "episode_start": ("episode start", "发作开始"), "episode_end": ("episode end", "发作结束"),
    "tp": ("confirmed", "确认数"), "fp": ("false alarms", "误报数"), "precision": ("precision", "精确率"),
    "personal_mean": ("personal mean", "个人均值"), "personal_std": ("personal sd", "个人标准差"),
    "group_mean": ("group mean", "群体均值"), "group_std": ("group sd", "群体标准差"),
    "blend_mean": ("blend mean", "混合均值"), "blend_std": ("blend sd", "混合标准差"),
    "age_group": ("age group", "年龄组"), "sex": ("sex", "性别"),
    "window_pr_auc": ("window PR-AUC", "窗口 PR-AUC"), "window_precision": ("window precision", "窗口精确率"),
    "window_recall": ("window recall", "窗口召回率"), "window_f1": ("window F1", "窗口 F1"),
    "event_recall": ("event recall", "事件召回率"), "event_precision": ("event precision", "事件精确率"),
    "event_f1": ("event F1", "事件 F1"), "false_alarms_per_user_day": ("false alarms per user-day", "每用户日误报数"),
}
ABOUT_FACTS: dict[str, tuple[str, str]] = {
    "model": ("model", "模型"), "parameters": ("parameters", "参数量"), "threshold": ("threshold", "阈值"),
    "threshold_criterion": ("threshold criterion", "阈值准则"), "window": ("window", "窗口"), "data": ("data", "数据"),
    "seed_days": ("seed / days", "随机种子 / 天数"), "users_split": ("users train / val / test", "用户 训练 / 验证 / 测试"),
}

#: known input errors (English, raised deep in the package) -> Chinese; the quoted input is kept
ERRORS_ZH: list[tuple[str, str]] = [
    (r"^a Fitbit upload is the two files of a pair, <ID>_hr.csv and <ID>_steps.csv, or the heart-rate file alone$",
     "Fitbit 上传应为同一对中的两个文件（<ID>_hr.csv 与 <ID>_steps.csv），或单独的心率文件"),
    (r"^no valid record to score:?", "没有可评分的有效记录："),
    (r"^no valid record in the window:?", "窗口中没有有效记录："),
    (r"^no file uploaded$", "没有上传文件"),
    (r"^upload one JSONL or CSV history file \(or one Fitbit CSV pair\)$", "请上传一个 JSONL 或 CSV 历史文件（或一对 Fitbit CSV 文件）"),
    (r"^the input is empty.*$", "输入为空：请粘贴一个窗口（记录的 JSON 列表）"),
    (r"^(.*): not valid JSON \((.*)\)$", r"\1：不是有效的 JSON（\2）"),
    (r"^(.*)not valid JSON(.*)$", r"\1不是有效的 JSON\2"),
    (r"^(.*) is over the size limit of (.*)$", r"\1 超过大小上限 \2"),
    (r"^no user has the (\d+) records one window needs: (.*)$", r"没有用户达到一个窗口所需的 \1 条记录：\2"),
    (r"unknown event kind (.*?); use one of: (.*)$", r"未知的事件类型 \1；可用：\2"),
    (r"^event line (\d+): (.*)$", r"事件第 \1 行：\2"),
    (r"date (.*) is not a date \(YYYY-MM-DD\)$", r"日期 \1 不是有效日期（年-月-日）"),
    (r"^cannot tell the heart-rate file from the steps file in (.*?): .*$", r"无法区分心率文件与步数文件：\1；请命名为 <ID>_hr.csv 与 <ID>_steps.csv"),
    (r"^(.*): file not found$", r"\1：找不到文件"),
    (r"^unknown user (.*)$", r"未知用户 \1"),
    (r"^(.*) is a shared demo user: read-only.*$", r"\1 是共享的演示用户：只读（只能重置您自己上传的用户）"),
]


#: the validation report's own words (validation.ValidationResult.summary, Issue); the values it quotes
#: (ids, numbers, file names) and the rarer messages stay as they are
REPORT_ZH: list[tuple[str, Any]] = [
    (r"^source: ", "来源："),
    (r"^records: (\d+) accepted of (\d+) read \((\d+) rejected, (\d+) duplicates dropped, (\d+) fields removed\)$",
     r"记录：读取 \2 条，接受 \1 条（拒绝 \3 条，丢弃重复 \4 条，移除字段 \5 个）"),
    (r"^users: (\d+) \((.*)\)$", r"用户：\1 个（\2）"),
    (r"^time span: ", "时间范围："),
    # a device export's import report (importers/base.py ImportReport.text)
    (r"^records: (\d+) five-minute records \((.*)\); bins with data but no heart rate, not exported: (\d+)$",
     r"记录：\1 条五分钟记录（\2）；有数据但无心率、未导出的时间段：\3 个"),
    (r"^samples: (\d+) read, (\d+) used, (\d+) skipped$", r"样本：读取 \1，使用 \2，跳过 \3"),
    (r"^  used( +\d+)  ", r"  使用\1  "),
    (r"^  skipped( +\d+)  ", r"  跳过\1  "),
    (r"^note: ", "备注："),
    (r"^errors \((\d+)\):$", r"错误（\1）："),
    (r"^warnings \((\d+)\):$", r"警告（\1）："),
    (r"^history:$", "历史部分："),
    (r"^(\s*)\.\.\. and (\d+) more$", r"\1……另有 \2 条"),
    (r"^(\s*)line (\d+), ([^:]*): ", r"\1第 \2 行，\3："),
    (r"^(\s*)(deviceId|timestamp|datetime|steps): ", r"\1\2："),
    (r"no (\S+) beside (\S+): heart rate alone, activity unknown \(never assumed to be rest: flags that need rest "
     r"are reported one level lower, and there is no resting-HR estimate\)",
     r"\2 旁没有 \1：仅有心率，活动状态未知（不视为静息：需要静息条件的警示降低一级报告，且没有静息心率估计）"),
    (r" is a string, expected a number", "：是字符串，应为数字"),
    (r" is (a boolean|an object|a list|null), expected a number", "：不是数字"),
    (r" is outside the valid range (\[[^\]]*\])", r"：超出有效范围 \1"),
    (r" is not a finite number", "：不是有限数字"),
    (r" is not a category of (\S+) \((.*?)\)", r"：不是 \1 的类别（\2）"),
    (r"：missing( \(record rejected\))$", r"：缺失\1"),
    (r"unknown feature name \(not in the feature config\)", "未知的特征名（不在特征配置中）"),
    (r"unknown static feature name", "未知的静态特征名"),
    (r"unknown top-level field", "未知的顶层字段"),
    (r"duplicate of line (\d+) for user '(.*)' at (\S+) \(identical values\); the first occurrence is kept",
     r"与第 \1 行重复（用户 '\2'，\3，数值相同）；保留首次出现的记录"),
    (r"duplicate of line (\d+) for user '(.*)' at (\S+) \(values differ\); the first occurrence is kept",
     r"与第 \1 行重复（用户 '\2'，\3，数值不同）；保留首次出现的记录"),
    (r"(\d+) record\(s\) without deviceId \(first at line (\d+)\) get the anonymous user id '(.*)', stable for this source",
     r"\1 条记录没有 deviceId（首条在第 \2 行），使用此来源固定的匿名用户 ID '\3'"),
    (r"record\(s\) out of time order \(first at line (\d+)\); records were sorted by timestamp",
     r"条记录时间顺序错乱（首条在第 \1 行）；已按时间排序"),
    (r"user '(.*?)': (\d+) 条记录时间顺序错乱", r"用户 '\1'：\2 条记录时间顺序错乱"),
    (r"no valid value left in the record", "记录中没有剩余的有效数值"),
    (r"expected a JSON object, got (a string|a list|a number|a boolean|null)",
     lambda m: "应为 JSON 对象，实际为" + {"a string": "字符串", "a list": "列表", "a number": "数字",
                                       "a boolean": "布尔值", "null": " null"}[m.group(1)]),
    (r"not valid JSON", "不是有效的 JSON"),
    (r" ?\(record rejected\)$", "（记录被拒绝）"),
    (r" ?\(field removed\)$", "（字段已移除）"),
    (r" ?\(duplicate dropped\)$", "（重复项已丢弃）"),
    (r" ?\(ignored\)$", "（已忽略）"),
    (r" ?\(sorted\)$", "（已排序）"),
    (r" ?\(anonymous id assigned\)$", "（已分配匿名 ID）"),
    (r" ?\(converted\)$", "（已转换）"),
    (r" ?\(noted\)$", "（仅提示）"),
]


def localize_report(text: str, lang: str | None) -> str:
    """The validation report in Chinese: its structure, actions and common messages; quoted values,
    ids and rarer messages stay as written."""
    import re

    if lang != "zh" or not text:
        return text
    out = []
    for line in text.splitlines():
        for pattern, repl in REPORT_ZH:
            line = re.sub(pattern, repl, line)
        out.append(line)
    return "\n".join(out)


def localize_error(message: str, lang: str | None) -> str:
    """A known input error in Chinese (line by line; lines it does not know stay as they are: they
    quote the input or the validation report)."""
    import re

    if lang != "zh":
        return message
    out = []
    for line in message.splitlines() or [""]:
        for pattern, repl in ERRORS_ZH:  # a line may carry two known parts ("event line 2: unknown event kind")
            line = re.sub(pattern, repl, line)
        out.append(line)
    return localize_report("\n".join(out), lang)  # "no valid record ...:" is followed by the report


#: values in the tables' cells that are words, not data: booleans, trends, finding statuses
VALUE_WORDS = {True: ("true", "是"), False: ("false", "否"), "stable": ("stable", "平稳"), "rising": ("rising", "上升"),
               "falling": ("falling", "下降"), "insufficient": ("insufficient", "数据不足"),
               "finding": ("finding", "发现"), "data_problem": ("data problem", "数据问题"),
               "awaiting_confirmation": ("awaiting confirmation", "待确认"), "insufficient_data": ("insufficient data", "数据不足")}
FEATURE_WORDS = {"hr": ("heart rate", "心率"), "hr_resting": ("resting heart rate", "静息心率"),
                 "hrv_rmssd": ("HRV (RMSSD)", "心率变异性 (RMSSD)"), "resp_rate": ("respiration", "呼吸频率"),
                 "spo2": ("SpO2", "血氧"), "skin_temp": ("skin temperature", "皮肤温度"), "steps": ("steps", "步数")}
VERDICT_WORDS = {"confirmed": ("confirmed", "确认属实"), "false_alarm": ("false alarm", "误报")}
PERIOD_WORDS = {"night": ("night", "夜间"), "morning": ("morning", "上午"), "day": ("day", "白天"),
                "evening": ("evening", "傍晚")}
SOURCE_WORDS = {"personal": ("personal", "个人"), "group": ("group", "群体"), "blend": ("blend", "混合")}


def lang_index(lang: str | None) -> int:
    return 1 if lang == "zh" else 0


def t(key: str, lang: str | None = "en", **kw) -> str:
    """The string `key` in `lang` (English for anything else), formatted with `kw`."""
    text = STRINGS[key][lang_index(lang)]
    return text.format(**kw) if kw else text


def word(table: dict[str, tuple[str, str]], key: str | None, lang: str | None) -> str:
    """A translated enum value; unknown values are shown as they are."""
    return table[key][lang_index(lang)] if key in table else str(key)
