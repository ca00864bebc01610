package i18n

// entry is one text of the catalogue: its key, the English text, and
// its Simplified Chinese translation.
type entry struct{ en, zh string }

// messages are the catalogue. Keep them sorted by use; a test checks that
// every one has a translation and no key is given twice.
var messages = []entry{
	// Navigation and layout.
	{"Skip to content", "跳到正文"},
	{"Pages", "页面"},
	{"Overview", "概览"},
	{"Modules", "模块"},
	{"Module", "模块"},
	{"Activity", "访问记录"},
	{"Alerts", "告警"},
	{"Sign in", "登录"},
	{"Sign out", "退出登录"},
	{"Error", "错误"},
	{"Back to the console", "返回控制台"},
	{"There is no such page.", "没有这个页面。"},
	{"This page is for operators (an admin token).", "此页面仅供运维人员（管理员令牌）使用。"},
	{"Your token may not download this module.", "你的令牌无权下载此模块。"},

	// Sign-in.
	{"Token", "令牌"},
	{"An admin token shows every page; a client token shows the modules it may download and its own activity.", "管理员令牌可查看所有页面；客户端令牌只能查看其有权下载的模块和自己的访问记录。"},
	{"The form has expired or came from another site; please try again.", "表单已过期或来自其他网站，请重试。"},
	{"Signing in needs the database, which is not available.", "登录需要数据库，但数据库当前不可用。"},
	{"Too many failed attempts; try again later.", "失败次数过多，请稍后再试。"},
	{"This is not a valid token.", "这不是有效的令牌。"},

	// Overview.
	{"At a glance", "一览"},
	{"Artifacts stored", "已存储的制品"},
	{"%d modules, %d versions", "%d 个模块，%d 个版本"},
	{"Storage", "存储"},
	{"used", "已用"},
	{"free", "可用"},
	{"stored (the file system's size is unknown)", "已存储（文件系统容量未知）"},
	{"Hit ratio today", "今日命中率"},
	{"%d hits, %d misses", "命中 %d 次，未命中 %d 次"},
	{"Requests today", "今日请求"},
	{"%d downloads", "%d 次下载"},
	{"served", "已发送"},
	{"Last 30 days", "最近 30 天"},
	{"requests", "个请求"},
	{"hits", "命中"},
	{"Alerts firing", "正在触发的告警"},
	{"Requests per day, last 30 days", "最近 30 天每日请求数"},
	{"Hit ratio per day, last 30 days", "最近 30 天每日命中率"},
	{"Upstreams", "上游"},
	{"Upstream", "上游"},
	{"State", "状态"},
	{"Since", "起始时间"},
	{"Breaker", "熔断器"},
	{"Last error", "最近错误"},
	{"up", "正常"},
	{"down", "故障"},
	{"No upstream has been asked anything since gomirror started.", "自 gomirror 启动以来尚未请求过任何上游。"},
	{"Last checksum mismatches", "最近的校验和不匹配"},
	{"Time", "时间"},
	{"Version", "版本"},
	{"File", "文件"},
	{"None since gomirror started: every file checked matched the checksum database.", "自 gomirror 启动以来没有：每个校验过的文件都与校验和数据库一致。"},

	// Modules.
	{"Module path contains", "模块路径包含"},
	{"Search", "搜索"},
	{"%d modules, %d versions, %d files stored", "已存储 %d 个模块、%d 个版本、%d 个文件"},
	{"Versions", "版本数"},
	{"Size", "大小"},
	{"Last stored", "最近存储"},
	{"No stored module matches.", "没有匹配的已存储模块。"},
	{"%d modules of this page are not shown: your token may not download them.", "本页有 %d 个模块未显示：你的令牌无权下载它们。"},
	{"Next page", "下一页"},
	{"Files", "文件"},
	{"Stored", "存储时间"},
	{"Downloads (%d days)", "下载次数（%d 天）"},
	{"Last downloaded", "最近下载"},
	{"Copy", "复制"},
	{"Copied", "已复制"},
	{"Activity of this module", "此模块的访问记录"},

	// Activity.
	{"Client", "客户端"},
	{"Status", "状态码"},
	{"Cache", "缓存"},
	{"any", "任意"},
	{"Filter", "筛选"},
	{"Export CSV", "导出 CSV"},
	{"Your own requests only (token %s).", "仅显示你自己的请求（令牌 %s）。"},
	{"Kind", "类型"},
	{"Duration", "耗时"},
	{"No request matches.", "没有匹配的请求。"},

	// Alerts.
	{"Rules", "规则"},
	{"Rule", "规则"},
	{"Threshold", "阈值"},
	{"Window", "时间窗口"},
	{"No alert rules are configured (the alerts setting).", "未配置告警规则（alerts 设置）。"},
	{"About", "对象"},
	{"Text", "说明"},
	{"No alert is pending, firing or recently resolved.", "没有待定、正在触发或最近已解除的告警。"},
	{"History, last 7 days", "历史（最近 7 天）"},
	{"No alert fired or resolved in the last 7 days.", "最近 7 天没有告警触发或解除。"},
}
