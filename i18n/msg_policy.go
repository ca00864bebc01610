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
	{"not a canonical version", "不是规范版本"},
	{"%s@%s: %s", "%s@%s：%s"},
	{"%q: want module@version", "%q：应为 module@version"},
	{"%q: %v: give a canonical version (such as v1.2.3; go list -m %s shows a query's), not a query", "%q：%v：请给出规范版本（如 v1.2.3；查询对应的版本可用 go list -m %s 查看），而不是版本查询"},

	// client/policycheck: setting up
	{"%s: %v (is it a gomirror with a policy, serving the policy check endpoint?)", "%s：%v（它是否是配置了策略、提供策略检查端点的 gomirror？）"},
	{"%s: reading the answer: %v", "%s：读取应答：%v"},
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

	// cmd/gomirror: the help of policy check and policy explain
	// (helpTranslated): flag usages and Long texts, used as they are (not
	// formats: Printer.Translate).
	{"the gomirror server that decides, with its policy for your token (default: the first URL of go env GOPROXY, which is sent no token)",
		"由哪台 gomirror 服务器按它对你的令牌适用的策略做出判定（默认：go env GOPROXY 中的第一个 URL，不会向它发送令牌）"},
	{"decide here with this policy file instead of asking a mirror", "不询问镜像，直接在本机按这个策略文件判定"},
	{"module proxy the facts (with --policy) and the build list come from (default: the mirror, or the first URL of go env GOPROXY, which is sent no token)",
		"从哪个模块代理获取模块信息（配合 --policy）和构建列表（默认：镜像本身，或 go env GOPROXY 中的第一个 URL，不会向它发送令牌）"},
	{"with --policy: the vulnerability database's URL (default: the proxy's /vuln)", "配合 --policy：漏洞数据库的 URL（默认：代理的 /vuln）"},
	{"file holding the token (default: $GOMIRROR_TOKEN), sent only to the origin of --mirror, or of --proxy with --policy (and --vulndb if the same)",
		"存放令牌的文件（默认：$GOMIRROR_TOKEN）；令牌只发送给 --mirror 的源，使用 --policy 时只发送给 --proxy 的源（--vulndb 与之同源时也发送）"},
	{"with --policy: decide with the rule set of this token name", "配合 --policy：按这个令牌名称对应的规则集判定"},
	{"print the result as JSON", "以 JSON 格式输出结果"},
	{"time limit for the whole command (0: none)", "整个命令的时间限制（0：不限制）"},
	{"print a SARIF 2.1.0 log (for code scanning)", "输出 SARIF 2.1.0 日志（用于代码扫描）"},
	{"with --sarif: the directory the locations are relative to (the repository's root)", "配合 --sarif：位置所相对的目录（仓库根目录）"},
	{`Check every module version of a project's build list (as go list -m all gives
it, without changing go.mod or go.sum) and every module version in its go.sum
(including versions with only a /go.mod line, whose go.mod alone is read)
against the dependency policy, and print each refusal with its rule and reason.

The policy is the mirror's, decided by the mirror for your token
(--mirror URL, default the first URL of go env GOPROXY; the token comes from
--token-file or $GOMIRROR_TOKEN, never from the command line),
or a policy file decided here (--policy FILE), its facts (a version's time,
retractions, licenses from the zip, vulnerabilities) fetched from --proxy
and --vulndb.

The token goes only to a server you name: the origin (scheme, host,
port) of --mirror, or with --policy of --proxy (and --vulndb if it has the
same origin). A URL taken from go env GOPROXY, which may be any proxy, is
never sent the token (a note says so: name your mirror with --mirror), and
a token is never sent over plain http to a host other than loopback (an
error, exit status 2).

A project used through a workspace (go env GOWORK in its directory) is
resolved without it: the go.work's replacements and go.work.sum are checked
too, and the check is incomplete (exit 2 unless a violation is found).

Refusals by rules in mode warn are printed as warnings and do not fail.
--json prints a JSON report, --sarif a SARIF 2.1.0 log for code scanning
(GitHub: upload it with github/codeql-action/upload-sarif), each located at
the go.mod require line or go.sum line naming the module version. What
could not be checked is also printed on standard error, and a check that
could not be done at all still prints a valid JSON report or SARIF log
(its invocation not successful, with the reason).

Exit status: 0 when every module version is allowed, 1 when at least one is
refused by an enforced rule, 2 when the check could not be done or was
incomplete (no violation found, but the policy, the mirror, the build list
or a module version's decision was not available).`,
		`按依赖策略检查项目构建列表中的每个模块版本（即 go list -m all 给出的列表，
不修改 go.mod 和 go.sum），以及 go.sum 中的每个模块版本（包括只有 /go.mod 行、
只会读取其 go.mod 的版本），并打印每一项拒绝及其规则和原因。

策略可以是镜像的策略，由镜像按你的令牌判定（--mirror URL，默认为
go env GOPROXY 中的第一个 URL；令牌来自 --token-file 或 $GOMIRROR_TOKEN，
绝不来自命令行），也可以是在本机判定的策略文件（--policy FILE），
所需的模块信息（版本的发布时间、撤回、zip 中的许可证、漏洞）从 --proxy
和 --vulndb 获取。

令牌只发送给你指定的服务器：--mirror 的源（协议、主机、端口），
使用 --policy 时为 --proxy 的源（--vulndb 与之同源时也发送）。
取自 go env GOPROXY 的 URL 可能是任意代理，绝不会收到令牌
（会有提示说明这一点：请用 --mirror 指定你的镜像）；令牌也绝不会通过明文 http
发送给回环地址以外的主机（这是错误，退出状态为 2）。

通过工作区使用的项目（其目录中 go env GOWORK 不为空）会在不使用工作区的情况下解析：
go.work 的 replace 和 go.work.sum 也会被检查，但检查不完整
（未发现违规时退出状态为 2）。

warn 模式的规则做出的拒绝作为警告打印，不会导致失败。
--json 输出 JSON 报告，--sarif 输出用于代码扫描的 SARIF 2.1.0 日志
（GitHub：用 github/codeql-action/upload-sarif 上传），每一项都定位到
提到该模块版本的 go.mod require 行或 go.sum 行。无法检查的内容也会打印到标准错误；
完全无法进行的检查仍会输出有效的 JSON 报告或 SARIF 日志
（其中的调用标记为未成功，并附上原因）。

退出状态：所有模块版本都被允许时为 0；至少一个被强制执行的规则拒绝时为 1；
检查无法进行或不完整（未发现违规，但策略、镜像、构建列表
或某个模块版本的判定结果不可用）时为 2。`},
	{`Say which rule of the dependency policy decides module@version (its code,
as for a .zip) and why: the rule and its place in the policy file, the
reason, and each check of the rule that asked for a fact, with the fact and
its outcome (the checks run in order, and the first that fails decides).

The policy is the mirror's (--mirror URL, default the first URL of go env
GOPROXY, with the token of --token-file or $GOMIRROR_TOKEN) or a policy
file's (--policy FILE). The token goes only to the origin of --mirror, or
with --policy of --proxy (and --vulndb if the same), never to a URL taken
from go env GOPROXY, and never over plain http to a host other than
loopback. Exit status: 0 allowed (also with a warning), 1
refused, 2 not decided.`,
		`说明依赖策略中哪条规则决定了 module@version（它的代码，即 .zip 请求时的判定）
以及原因：规则及其在策略文件中的位置、原因，以及该规则中每个需要查询模块信息的检查，
连同查到的信息和检查结果（检查按顺序进行，第一个未通过的检查决定结果）。

策略可以是镜像的策略（--mirror URL，默认为 go env GOPROXY 中的第一个 URL，
使用 --token-file 或 $GOMIRROR_TOKEN 中的令牌），也可以是策略文件的策略
（--policy FILE）。令牌只发送给 --mirror 的源，使用 --policy 时只发送给 --proxy
的源（--vulndb 与之同源时也发送），绝不发送给取自 go env GOPROXY 的 URL，
也绝不通过明文 http 发送给回环地址以外的主机。退出状态：0 表示允许
（包括带警告的允许），1 表示拒绝，2 表示未能判定。`},
}
