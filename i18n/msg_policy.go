package i18n

// policyMessages are the texts of gomirror policy check and policy explain.
var policyMessages = []entry{
	// cmd/gomirror/policy.go
	{"gomirror: warning: %v\n", "gomirror: 警告：%v\n"},
	{"gomirror: note: %v\n", "gomirror: 提示：%v\n"},
	{"gomirror: not checked: %s\n", "gomirror: 未检查：%s\n"},
	{"give at most one directory, go.mod or go.sum", "最多给出一个目录、go.mod 或 go.sum"},
	{"give --json or --sarif, not both", "--json 和 --sarif 只能给出一个"},
	{"give one module@version", "请给出一个 module@version"},
	{"checking %s and %s against %v\n", "正在检查 %s 和 %s（依据：%v）\n"},
	{"checking %s against %v\n", "正在检查 %s（依据：%v）\n"},

	// client/policycheck: the report of policy check
	{"%s%s@%s: refused by %v: %v\n", "%s%s@%s：被%v拒绝：%v\n"},
	{"%swarning: %s@%s: refused by %v (mode warn): %v\n", "%s警告：%s@%s：被%v拒绝（warn 模式）：%v\n"},
	{"%snot checked: %s@%s: %s\n", "%s未检查：%s@%s：%s\n"},
	{"not checked: %v\n", "未检查：%v\n"},
	{"%v checked: %v, %v, %s not checked\n", "已检查 %v：%v，%v，%s 个未检查\n"},
	{"%s module version", "%s 个模块版本"},
	{"%s module versions", "%s 个模块版本"},
	{"%s violation", "%s 个违规"},
	{"%s violations", "%s 个违规"},
	{"%s warning", "%s 个警告"},
	{"%s warnings", "%s 个警告"},
	// the deciding rule and its place
	{"default", "默认规则"},
	{"rule %s", "规则 %s"},
	{"rule %q", "规则 %q"},
	{"set %q %v", "规则集 %q 的%v"},
	{"%v (%s:%s)", "%v（%s:%s）"},

	// client/policycheck: policy explain
	{"%s: not decided: %s\n", "%s：未能判定：%s\n"},
	{"%s: refused by %v\n", "%s：被%v拒绝\n"},
	{"%s: allowed with a warning: refused by %v in mode warn\n", "%s：允许，但有警告：在 warn 模式下被%v拒绝\n"},
	{"%s: allowed by %v\n", "%s：%v允许\n"},
	{"  reason: %v\n", "  原因：%v\n"},
	{"  checks: none that needs a fact ran\n", "  检查：没有需要查询模块信息（发布时间、撤回、许可证、漏洞）的检查\n"},
	{"  checks (in order; the first that fails decides):\n", "  检查（按顺序；第一个未通过的检查决定结果）：\n"},
	{"    %s: %v: skipped (%v)\n", "    %s：%v：已跳过（%v）\n"},
	{"    %s: %v: skipped\n", "    %s：%v：已跳过\n"},
	{"    %s: %v: passed\n", "    %s：%v：通过\n"},
	{"    %s: %v: failed (%v)\n", "    %s：%v：未通过（%v）\n"},
	{"    %s: %v: failed\n", "    %s：%v：未通过\n"},

	// policy: the reasons of a decision (policy.Decision.ReasonText)
	{"no policy", "没有策略"},
	{"no rule matches, and the default is deny", "没有匹配的规则，默认拒绝"},
	{"no rule matches, and the default is allow", "没有匹配的规则，默认允许"},
	{"denied", "禁止使用"},
	{"denied for versions %s", "禁止使用 %s 范围内的版本"},
	{"pseudo-versions are denied", "禁止使用伪版本"},
	{"published %s, min-age is %s days: refused until %s", "发布于 %s，min-age 为 %s 天：%s 之前拒绝"},
	{"retracted: %s", "已撤回：%s"},
	{"vulnerability database not available", "漏洞数据库不可用"},
	{"affected by %s", "受 %s 影响"},
	{"no license found; allowed: %s", "未找到许可证；允许的许可证：%s"},
	{"license %s not allowed; allowed: %s", "许可证 %s 不在允许之列；允许的许可证：%s"},
	{"allowed", "允许"},
	// api: the facts of explain's checks (api.PolicyCheck.FactText)
	{"not known: %s", "未知：%s"},
	{"published %s", "发布于 %s"},
	{"not retracted by the latest go.mod", "最新的 go.mod 未撤回此版本"},
	{"retracted by the latest go.mod", "已被最新的 go.mod 撤回"},
	{"retracted by the latest go.mod: %s", "已被最新的 go.mod 撤回：%s"},
	{"no license found", "未找到许可证"},
	{"licenses %s", "许可证 %s"},
	{"no advisories", "没有安全公告"},
	{"advisories %s", "安全公告 %s"},

	// client/policycheck: what could not be checked
	{"the build list of %s could not be resolved, so only its requirements and go.sum were checked: %v", "无法解析 %s 的构建列表，因此只检查了它的 require 和 go.sum：%v"},
	{"could not tell whether a workspace (go.work) applies to %s: %v", "无法判断 %s 是否处于某个工作区（go.work）中：%v"},
	{"%s is used through the workspace %s: its build list was resolved without the workspace; the workspace's replacements and go.work.sum were checked, its other modules' requirements were not (check each module, or with GOWORK=off)", "%s 是通过工作区 %s 使用的：它的构建列表是在不使用工作区的情况下解析的；已检查工作区的 replace 和 go.work.sum，但没有检查工作区中其他模块的 require（请逐个模块检查，或设置 GOWORK=off）"},
	{"%q: want module@version", "%q：应为 module@version"},
	{"%q: %v: give a canonical version (such as v1.2.3; go list -m %s shows a query's), not a query", "%q：%v：请给出规范版本（如 v1.2.3；查询对应的版本可用 go list -m %s 查看），而不是版本查询"},

	// client/policycheck: setting up
	{"%s: no token in the file", "%s：文件中没有令牌"},
	{"give --mirror or --policy, not both", "--mirror 和 --policy 只能给出一个"},
	{"go env GOPROXY is %q, with no URL first: give --mirror URL or --policy FILE", "go env GOPROXY 为 %q，第一项不是 URL：请给出 --mirror URL 或 --policy FILE"},
	{"go env GOPROXY is %q, with no URL first: give --proxy URL", "go env GOPROXY 为 %q，第一项不是 URL：请给出 --proxy URL"},
	{"the mirror at %s", "镜像 %s 的策略"},
	{"policy %s", "策略文件 %s"},
	{"the token is not sent to --vulndb %s: not the origin of --proxy", "令牌不会发送给 --vulndb %s：它与 --proxy 不同源"},
	{"the token is not sent to %s, taken from go env GOPROXY: it goes only to a mirror named with %s", "令牌不会发送给取自 go env GOPROXY 的 %s：令牌只发送给用 %s 指定的镜像"},
	{"%s %s: refusing to send the token over plain http to a host other than loopback: use https", "%s %s：拒绝通过明文 http 向非回环地址的主机发送令牌：请使用 https"},
	{"%s %q: want an http or https URL", "%s %q：应为 http 或 https URL"},
	{"vulnerability database %s not readable: %v; deny-vulnerable rules refuse what they match", "无法读取漏洞数据库 %s：%v；deny-vulnerable 规则会拒绝它们匹配的模块版本"},
}
