package i18n

import "slices"

// mirrorsMessages are the texts of the public mirror catalogue, gomirror setup and gomirror bench.
var mirrorsMessages = slices.Concat(catalogueMessages, benchMessages, benchCmdMessages, setupMessages, setupFixMessages, mirrorsHelpMessages)

// client/mirrors: the catalogue.
var catalogueMessages = []entry{
	// client/mirrors: the catalogue.
	{"official default", "官方默认"},
	{"catalogue %s: %v", "镜像目录 %s：%v"},
	{"catalogue %s, line %d: %v", "镜像目录 %s 第 %d 行：%v"},
	{"catalogue %s, line %d: unknown field %s", "镜像目录 %s 第 %d 行：未知字段 %s"},
	{"catalogue %s, line %d: id %q already given on line %d", "镜像目录 %s 第 %d 行：id %q 已在第 %d 行出现过"},
	{"id %q: want lower-case letters, digits and '-'", "id %q：只能包含小写字母、数字和 '-'"},
	{"id %q is the go command's default, which the catalogue cannot redefine (only disable)", "id %q 是 go 命令的默认代理，镜像目录不能重新定义它（只能禁用）"},
	{"mirror %s has no name.en", "镜像 %s 缺少 name.en"},
	{"mirror %s: %v", "镜像 %s：%v"},
	{"mirror %s: sumdb %q: want yes, no or unknown", "镜像 %s：sumdb %q：应为 yes、no 或 unknown"},
	{"URL %q: want https://host/path", "URL %q：应为 https://host/path"},
	{"URL %q: no query, fragment or user allowed", "URL %q：不能包含查询参数、片段或用户名"},
	{"URL %q: plain http only to a loopback address; want https", "URL %q：只有回环地址可以用明文 http，其他请用 https"},
	{"reading the go command's default proxy: %v (to compare the mirrors without it, add an entry \"id: %s\" with \"disabled: true\" to %s)", "读取 go 命令的默认代理失败：%v（如果不想比较它，请在 %[3]s 中添加一项 \"id: %[2]s\" 并设置 \"disabled: true\"）"},
	{"the mirror catalogue is empty", "镜像目录为空"},
	{"catalogue: %v", "镜像目录：%v"},
	{"try `gomirror setup --fastest`: it measures the public mirrors of the catalogue and sets GOPROXY to the fastest two, then direct (undo with `gomirror setup --undo`)", "试试 `gomirror setup --fastest`：它会测量镜像目录中的公共镜像，把 GOPROXY 设为最快的两个，最后是 direct（用 `gomirror setup --undo` 撤销）"},
	{"%s does not proxy the checksum database: the go command reaches the checksum database (GOSUMDB=%s) directly to verify new modules; where that is blocked or slow, go get fails or waits at verification. Set GOSUMDB to a checksum database proxy you can reach (the name stays the same, the URL is the proxy's), or choose a mirror that proxies it.", "%s 不代理校验和数据库：go 命令会直接访问校验和数据库（GOSUMDB=%s）来校验新模块；如果它被屏蔽或很慢，go get 会在校验时失败或卡住。请把 GOSUMDB 设为你能访问的校验和数据库代理（名称不变，URL 用代理的），或者选择一个代理校验和数据库的镜像。"},
	{"It is not known whether %s proxies the checksum database: if it does not, the go command reaches the checksum database (GOSUMDB=%s) directly to verify new modules; where that is blocked or slow, go get fails or waits at verification. Set GOSUMDB to a checksum database proxy you can reach (the name stays the same, the URL is the proxy's), or choose a mirror that proxies it.", "不确定 %s 是否代理校验和数据库：如果不代理，go 命令会直接访问校验和数据库（GOSUMDB=%s）来校验新模块；如果它被屏蔽或很慢，go get 会在校验时失败或卡住。请把 GOSUMDB 设为你能访问的校验和数据库代理（名称不变，URL 用代理的），或者选择一个代理校验和数据库的镜像。"},
}

// client/mirrorbench: the table and the recommendation.
var benchMessages = []entry{
	{"NAME", "名称"},
	{"MIRROR", "镜像"},
	{"SUCCESS", "成功率"},
	{"LIST p50/p95", "LIST p50/p95"},
	{"INFO p50/p95", "INFO p50/p95"},
	{"MOD p50/p95", "MOD p50/p95"},
	{"ZIP MB/s", "ZIP MB/s"},
	{"\nsamples: %s, module versions: %s (%s)\n", "\n采样轮数：%s，模块版本数：%s（%s）\n"},
	{"%s: %s× %s\n", "%s：%s× %s\n"},
	{"Recommended: %s (%s)\n", "推荐：%s（%s）\n"},
	{"No recommendation: %s\n", "无法推荐：%s\n"},
	{"%s: ... and %s more kinds of failure\n", "%s：……以及另外 %s 种失败\n"},
	{"%s: %s requests skipped after %s failures in a row\n", "%s：连续失败 %[3]s 次后，跳过了其余 %[2]s 个请求\n"},
	{"no mirror answered any request successfully", "没有任何镜像成功响应过请求"},
	{"the only mirror", "唯一的镜像"},
	{"the only mirror that answered successfully (%s of requests)", "唯一成功响应的镜像（%s 的请求成功）"},
	{"highest success rate: %s of requests, against %s for %s", "成功率最高：%[1]s 的请求成功，而 %[3]s 为 %[2]s"},
	{"same success rate (%s) and lowest info+mod median latency: %s, against %s for %s", "成功率相同（%[1]s），info+mod 延迟中位数最低：%[2]s，而 %[4]s 为 %[3]s"},
	{"same success rate (%s), info+mod median latency within %s (%s, %s for %s), and highest zip throughput: %s MB/s, against %s MB/s", "成功率相同（%[1]s），info+mod 延迟中位数相差在 %[2]s 以内（%[3]s，而 %[5]s 为 %[4]s），zip 吞吐量最高：%[6]s MB/s，对方为 %[7]s MB/s"},
}

// gomirror bench.
var benchCmdMessages = []entry{
	{"--modules: %v", "--modules：%v"},
	{"--samples %s: want at least 1", "--samples %s：至少为 1"},
	{"--timeout %s: want a positive duration", "--timeout %s：应为正的时长"},
	{"--catalogue goes with no URL", "--catalogue 只能在不给 URL 时使用"},
	{"benchmarking %s mirrors: %s samples of %s\n", "正在测试 %s 个镜像：%s 轮采样，模块 %s\n"},
	{"sample %s/%s done\n", "第 %s/%s 轮采样完成\n"},
	{"no mirror to recommend: %v", "没有可推荐的镜像：%v"},
}

// gomirror setup (client/setup and the command).
var setupMessages = []entry{
	// client/setup.
	{"cannot set %s", "不能设置 %s"},
	{"%s: value %q has a newline, NUL or invalid UTF-8", "%s：值 %q 含有换行符、NUL 或无效的 UTF-8"},
	{"mirror URL %q: give one URL, not a GOPROXY list", "镜像 URL %q：请只给一个 URL，而不是 GOPROXY 列表"},
	{"mirror URL: %v", "镜像 URL：%v"},
	{"mirror URL %q has no host", "镜像 URL %q 缺少主机名"},
	{"mirror URL %q has no path", "镜像 URL %q 缺少路径"},
	{"mirror URL %q: want http://, https:// or file://", "镜像 URL %q：应以 http://、https:// 或 file:// 开头"},
	{"mirror URL %q: no query or fragment allowed", "镜像 URL %q：不能包含查询参数或片段"},
	{"probe module: %v", "探测模块：%v"},
	{"%s is not a module proxy: %v", "%s 不是模块代理：%v"},
	{"%s is not a module proxy: %s is not a directory", "%s 不是模块代理：%s 不是目录"},
	{"%s does not answer: %v", "%s 没有响应：%v"},
	{"%s does not answer: reading GET %s: %v", "%s 没有响应：读取 GET %s 失败：%v"},
	{"%s does not speak the module proxy protocol: GET %s: %s", "%s 不支持模块代理协议：GET %s：%s"},
	{"no saved settings", "没有保存的设置"},
	{"GOENV is off, so the go command has no settings file to change (use --print instead)", "GOENV 为 off，go 命令没有可修改的配置文件（请改用 --print）"},
	{"GOENV %q is not an absolute path", "GOENV %q 不是绝对路径"},
	{"%v: the state file %s does not exist", "%v：状态文件 %s 不存在"},
	{"state file %s: %v", "状态文件 %s：%v"},
	{"nothing to set", "没有要设置的内容"},
	{"%s given twice", "%s 给了两次"},
	{"state file %s belongs to GOENV %s, not %s: undo that first (GOENV=%s gomirror setup --undo)", "状态文件 %s 属于 GOENV %s，而不是 %s：请先撤销它（GOENV=%s gomirror setup --undo）"},
	{"saving the current settings: %v", "保存当前设置失败：%v"},
	{"state file %s belongs to GOENV %s, not %s", "状态文件 %s 属于 GOENV %s，而不是 %s"},
	{"cannot set %q: not one of %s", "不能设置 %q：不是 %s 之一"},
	{"unknown shell %q: want one of %s", "未知的 shell %q：应为 %s 之一"},
	{"profile name %q: want letters, digits, '.', '_' and '-' (at most 64)", "配置方案名 %q：只能包含字母、数字、'.'、'_' 和 '-'（最多 64 个字符）"},
	{"profiles file %s: %v", "配置方案文件 %s：%v"},
	{"profiles file %s: profile %s: %v", "配置方案文件 %s：配置方案 %s：%v"},

	// The command.
	{"give the mirror URL (or --fastest, --profile NAME, --list, --undo)", "请给出镜像 URL（或者 --fastest、--profile NAME、--list、--undo）"},
	{"--%s takes no other flags (got --%s)", "--%s 不能与其他参数一起使用（收到了 --%s）"},
	{"--%s goes with --fastest", "--%s 只能与 --fastest 一起使用"},
	{"--fastest takes no --%s", "--fastest 不能与 --%s 一起使用"},
	{"--profile takes no --%s", "--profile 不能与 --%s 一起使用"},
	{"--%s goes with a URL: gomirror setup --profile NAME URL --%s ...", "--%s 需要同时给出 URL：gomirror setup --profile NAME URL --%s ..."},
	{"--shell goes with --print", "--shell 只能与 --print 一起使用"},
	{"%v; nothing changed (--no-check skips this check)", "%v；未做任何修改（--no-check 可跳过此检查）"},
	{"%s=%s written to %s\n", "已将 %s=%s 写入 %s\n"},
	{"  but the environment variable %s=%s overrides it\n", "  但环境变量 %s=%s 会覆盖它\n"},
	{"The settings from before the first setup stay saved in %s; undo with: gomirror setup --undo\n", "第一次 setup 之前的设置仍保存在 %s；撤销：gomirror setup --undo\n"},
	{"The previous settings are saved in %s; undo with: gomirror setup --undo\n", "原来的设置已保存在 %s；撤销：gomirror setup --undo\n"},
	{"nothing to undo: %v (gomirror setup has not changed this GOENV file, or it was undone already)", "没有可撤销的内容：%v（gomirror setup 没有修改过这个 GOENV 文件，或者已经撤销过了）"},
	{"%s restored to %q in %s\n", "已在 %[3]s 中把 %[1]s 恢复为 %[2]q\n"},
	{"%s removed from %s (now %q)\n", "已从 %[2]s 中删除 %[1]s（现在为 %[3]q）\n"},
	{"no profile %s (create it with: gomirror setup --profile %s URL)", "没有配置方案 %s（创建：gomirror setup --profile %s URL）"},
	{"Profile %s saved in %s\n", "配置方案 %s 已保存到 %s\n"},
	{"Switched to profile %s\n", "已切换到配置方案 %s\n"},
	{"No profiles yet; save one with: gomirror setup --profile NAME URL\n", "还没有配置方案；保存一个：gomirror setup --profile NAME URL\n"},
	{"PROFILE", "配置方案"},
	{"SETTINGS", "设置"},
	{"measuring %s mirrors of the catalogue (each request limited to %s)...\n", "正在测量镜像目录中的 %s 个镜像（每个请求限时 %s）……\n"},
	{"no mirror of the catalogue answered every request; nothing changed", "镜像目录中没有哪个镜像成功响应了全部请求；未做任何修改"},
	{"\nSetting: GOPROXY=%s\n", "\n将设置：GOPROXY=%s\n"},
	{"no terminal to confirm on: run again with --yes to set GOPROXY to the fastest mirrors without asking; nothing measured, nothing changed", "没有可以确认的终端：请加上 --yes 重新运行，不经询问把 GOPROXY 设为最快的镜像；未做任何测量，也未做任何修改"},
	{"Set GOPROXY=%s? [y/N] ", "设置 GOPROXY=%s？[y/N] "},
	{"Nothing changed.\n", "未做任何修改。\n"},
}

// The texts added with the review fixes: locking, bounded bodies, the one
// URL check, warnings.
var setupFixMessages = []entry{
	{"mirror %s: %s has control or bidirectional formatting characters", "镜像 %s：%s 包含控制字符或双向文本格式字符"},
	{"catalogue %s: %d entries, at most %d allowed", "镜像目录 %s：有 %d 项，最多允许 %d 项"},
	{"mirror URL %q: white space, control characters or invalid UTF-8", "镜像 URL %q：包含空白、控制字符或无效的 UTF-8"},
	{"mirror URL %q: not a URL", "镜像 URL %q：不是有效的 URL"},
	{"mirror URL %q: want http://host or https://host", "镜像 URL %q：应为 http://host 或 https://host"},
	{"mirror %s given twice", "镜像 %s 重复给出"},
	{"GOENV is off, so the go command has no settings file to change: unset GOENV or point it at a file (gomirror setup --print URL prints the settings for the shell instead)", "GOENV 为 off，go 命令没有可修改的配置文件：请取消设置 GOENV 或让它指向一个文件（也可以用 gomirror setup --print URL 输出用于 shell 的设置）"},
	{"GOENV %s is not a regular file (a directory?): unset GOENV or point it at a file", "GOENV %s 不是普通文件（是目录？）：请取消设置 GOENV 或让它指向一个文件"},
	{"%s put back to its value from before the first setup (now %q)\n", "%s 已恢复为第一次 setup 之前的值（现在为 %q）\n"},
	{"warning: %v; it is left as it is (the active profile is not recorded)\n", "警告：%v；该文件保持不变（不记录当前配置方案）\n"},
	{"warning: recording that no profile is active: %v\n", "警告：记录“没有当前配置方案”失败：%v\n"},
	{"warning: recording that profile %s is active: %v\n", "警告：记录当前配置方案 %s 失败：%v\n"},
	{"%v; nothing changed (fix or remove the file)", "%v；未做任何修改（请修复或删除该文件）"},
}

// The help of gomirror setup and gomirror bench (helpTranslated in
// cmd/gomirror): the Long texts and every flag's usage.
var mirrorsHelpMessages = []entry{
	{"with --fastest: the mirror catalogue file to use instead of the built-in one", "与 --fastest 一起使用：用这个镜像目录文件代替内置的目录"},
	{"measure the catalogue's mirrors and set GOPROXY=<fastest>,<second>,direct", "测量镜像目录中的镜像，并设置 GOPROXY=<最快>,<第二>,direct"},
	{"list the saved profiles (* marks the active one)", "列出已保存的配置方案（* 标出当前使用的）"},
	{"with --fastest: module versions to fetch, as path@version, comma-separated", "与 --fastest 一起使用：要获取的模块版本，格式为 path@version，用逗号分隔"},
	{"do not check that URL is a module proxy", "不检查 URL 是否为模块代理"},
	{"also set GONOPROXY", "同时设置 GONOPROXY"},
	{"also set GONOSUMDB", "同时设置 GONOSUMDB"},
	{"also set GOPRIVATE", "同时设置 GOPRIVATE"},
	{"also set GOSUMDB", "同时设置 GOSUMDB"},
	{"print shell commands setting the variables instead of changing anything", "不做任何修改，只输出设置这些变量的 shell 命令"},
	{"module whose version list the check asks for", "检查时请求其版本列表的模块"},
	{"with a URL: save the settings as profile NAME and switch to it; alone: switch to profile NAME", "带 URL：把这些设置保存为配置方案 NAME 并切换过去；单独使用：切换到配置方案 NAME"},
	{"with --fastest: how many times to fetch each artifact from each mirror", "与 --fastest 一起使用：每个文件从每个镜像获取几次"},
	{"shell for --print: sh, fish or powershell", "--print 所用的 shell：sh、fish 或 powershell"},
	{"time limit for the check (default 10s); with --fastest, for each request (default 5s)", "检查的时限（默认 10s）；与 --fastest 一起使用时为每个请求的时限（默认 5s）"},
	{"restore the settings from before the first setup", "恢复第一次 setup 之前的设置"},
	{"with --fastest: set GOPROXY without asking", "与 --fastest 一起使用：不经询问直接设置 GOPROXY"},
	{"with no URL: compare the mirrors of this catalogue file instead of the built-in one", "不给 URL 时：比较这个镜像目录文件中的镜像，而不是内置目录中的"},
	{"print the results as JSON", "以 JSON 格式输出结果"},
	{"module versions to fetch, as path@version, comma-separated", "要获取的模块版本，格式为 path@version，用逗号分隔"},
	{"how many times to fetch each artifact from each mirror", "每个文件从每个镜像获取几次"},
	{"time limit for one request", "单个请求的时限"},
	{setupLong, setupLongZh},
	{benchLong, benchLongZh},
	{"the official default is left out: there is no go command (%s) on PATH to ask for it", "未包含官方默认代理：PATH 中没有 go 命令（%s），无法查询它"},
	{"warning: %s\n", "警告：%s\n"},
}

const setupLong = `Point the go command at the mirror at URL: check that URL answers the module
proxy protocol, save the current settings, then run

	go env -w GOPROXY=URL [GOSUMDB=... GOPRIVATE=... GONOSUMDB=... GONOPROXY=...]

(the other variables only when their flag is given). The go command writes
them to the file GOENV names (see go env GOENV); the settings from before the
first setup are saved next to it, in gomirror-setup.json, until
'gomirror setup --undo' puts them back: variables the GOENV file set get their
old values, the others are removed from it. Running setup again (any form)
before undo keeps the original saved settings.

The check is GET URL/<probe module>/@v/list: a 200 with a plain-text version
list, or a 404 or 410 with a plain-text message, is a module proxy; anything
else (no answer, a TLS error, 5xx, an HTML page) is refused and nothing is
changed. --no-check skips it.

--fastest measures the mirrors of the catalogue (the go command's default
proxy and the public mirrors gomirror knows, as 'gomirror bench' with no URL
does; --catalogue FILE replaces the built-in list, and the user's file
$XDG_CONFIG_HOME/gomirror/mirrors.yaml changes it): --samples rounds of the
--modules' list, .info, .mod and .zip, each request limited by --timeout
(5s by default), a mirror given up on after 2 failures in a row. It prints
the table and sets GOPROXY=<fastest>,<second>,direct, the fallback order the
guides recommend, after asking "y/N" on the terminal; --yes sets it without
asking (for scripts). Only mirrors that answered every request of the run
stand in that list (the go command falls through to the next only on 404
and 410, so a mirror that fails in second place would stop the build); with
one such mirror it is <fastest>,direct. Without a terminal and without
--yes it refuses before measuring anything. When the chosen mirror does not
proxy the checksum database (or that is not known), it says what that means
for GOSUMDB.

Profiles are named sets of these settings, kept in gomirror-profiles.json
next to the GOENV file (mode 0600):

	gomirror setup --profile office https://mirror.corp.example --private 'corp.example/*'
	gomirror setup --profile home https://goproxy.cn
	gomirror setup --profile office     # switch back
	gomirror setup --list               # the profiles, * marks the active one

--profile NAME with a URL (and the optional --sumdb, --private, --nosumdb,
--noproxy) saves the profile NAME (replacing one of that name) and switches
to it; --profile NAME alone switches to the saved profile. A switch sets the
profile's variables and puts back, for every other variable gomirror has
changed, its value from before the first setup (and says so); --undo still
restores everything from before the first setup. Setups run at the same
time wait for each other (a lock file, gomirror-setup.lock, next to the GOENV file).

With --print, nothing is changed: the settings are printed as commands for
the shell given with --shell, for CI, e.g. eval "$(gomirror setup --print URL)".`

const setupLongZh = `让 go 命令使用 URL 处的镜像：先检查该 URL 是否响应模块代理协议，保存当前设置，
然后运行

	go env -w GOPROXY=URL [GOSUMDB=... GOPRIVATE=... GONOSUMDB=... GONOPROXY=...]

（其他变量只在给出对应参数时设置）。go 命令把它们写入 GOENV 指向的文件（见
go env GOENV）；第一次 setup 之前的设置保存在它旁边的 gomirror-setup.json 中，
直到 'gomirror setup --undo' 把它们恢复：GOENV 文件原来设置过的变量恢复为原来的值，
其余的从文件中删除。在撤销之前再次运行 setup（任何形式）会保留最初保存的设置。

检查方式是 GET URL/<探测模块>/@v/list：返回 200 和纯文本版本列表，或返回 404、410
和纯文本消息，就是模块代理；其他情况（无响应、TLS 错误、5xx、HTML 页面）都会被拒绝，
不做任何修改。--no-check 跳过检查。

--fastest 测量镜像目录中的镜像（go 命令的默认代理和 gomirror 知道的公共镜像，与不带
URL 的 'gomirror bench' 相同；--catalogue FILE 代替内置列表，用户文件
$XDG_CONFIG_HOME/gomirror/mirrors.yaml 可以修改它）：对 --modules 中的模块请求
--samples 轮 list、.info、.mod 和 .zip，每个请求限时 --timeout（默认 5s），某个镜像
连续失败 2 次后就不再测它。它输出表格，并在终端上询问 "y/N" 之后设置
GOPROXY=<最快>,<第二>,direct，即各类指南推荐的回退顺序；--yes 不经询问直接设置
（用于脚本）。只有成功响应了本次全部请求的镜像才会放进这个列表（go 命令只在 404 和
410 时才回退到下一个，排在第二位的镜像一旦出错就会让构建失败）；只有一个这样的镜像时，
设置为 <最快>,direct。没有终端又没有 --yes 时，它在测量之前就拒绝执行。如果选中的
镜像不代理校验和数据库（或不确定是否代理），它会说明这对 GOSUMDB 意味着什么。

配置方案是这些设置的命名集合，保存在 GOENV 文件旁边的 gomirror-profiles.json 中
（权限 0600）：

	gomirror setup --profile office https://mirror.corp.example --private 'corp.example/*'
	gomirror setup --profile home https://goproxy.cn
	gomirror setup --profile office     # 切换回来
	gomirror setup --list               # 列出配置方案，* 标出当前使用的

--profile NAME 加上 URL（以及可选的 --sumdb、--private、--nosumdb、--noproxy）
保存配置方案 NAME（替换同名的）并切换过去；单独的 --profile NAME 切换到已保存的
配置方案。切换时设置该方案的变量，并把 gomirror 改过的其他变量恢复为第一次 setup
之前的值（并会说明）；--undo 仍然恢复第一次 setup 之前的全部设置。同时运行的多个
setup 会互相等待（GOENV 文件旁边的锁文件 gomirror-setup.lock）。

使用 --print 时不做任何修改：设置以 --shell 指定的 shell 命令形式输出，用于 CI，
例如 eval "$(gomirror setup --print URL)"。`

const benchLong = `Compare the module mirrors at the URLs, or with no URL the public mirrors of the
catalogue (see below): for each of --samples samples and each
module version in --modules, GET its version list, .info, .mod and .zip from
every mirror, one request at a time, the mirrors taking turns (the first one
rotating) so that changing network conditions hit them all alike.

A request succeeds when it answers 2xx with a plausible body (a version list,
.info naming the version, a go.mod naming the module, a zip of the module);
each has a time limit of --timeout. The table shows per mirror the success
rate, the median and 95th percentile latency of the successful list, .info
and .mod requests, and the zip throughput in MB/s; --json prints the same
data as JSON.

The mirrors are ranked by the highest success rate, then the lowest sum of
the .info and .mod medians (within 5% counts as equal), then the highest
zip throughput; the recommendation is the first. A mirror that answered
nothing successfully is never recommended. Bodies are bounded (list and
.mod 1 MiB, .info 64 KiB, .zip 500 MiB, read as a stream): a larger one is
a failed request.

With no URL, the mirrors compared are those of the catalogue: the go
command's own default proxy ("official default", read from the go command
with GOTOOLCHAIN=local), then the public mirrors built into gomirror (the
table names them), or those of --catalogue FILE instead, then the changes of
the user's file ` + "`$XDG_CONFIG_HOME/gomirror/mirrors.yaml`" + `
(os.UserConfigDir): an entry with the id of an earlier one replaces it,
"disabled: true" removes it ("id: official" is the go command's default,
which then needs no go command; with no go command on PATH it is left out
with a warning), and a URL given twice is measured once
(the later entry describes it). A mirror whose requests fail 2 times in a
row is given up on for the rest of the run. See docs/client-tools.md for the
file's format.

Exit status: 0 when a mirror is recommended; 1 for a usage error or when no
mirror answered any request successfully (the report is printed first).`

const benchLongZh = `比较各 URL 处的模块镜像，不给 URL 时比较镜像目录中的公共镜像（见下文）：对 --samples
的每一轮、--modules 中的每个模块版本，从每个镜像 GET 它的版本列表、.info、.mod 和
.zip，一次一个请求，各镜像轮流进行（首个镜像轮换），使网络状况的变化对所有镜像一视同仁。

请求成功的条件是返回 2xx 且响应体合理（版本列表、写明该版本的 .info、写明该模块的
go.mod、该模块的 zip）；每个请求限时 --timeout。表格按镜像列出成功率、成功的 list、
.info 和 .mod 请求的延迟中位数和 95 百分位数，以及 zip 吞吐量（MB/s）；--json 以 JSON
输出同样的数据。

镜像的排序依次按：成功率最高、.info 与 .mod 延迟中位数之和最低（相差 5% 以内视为相同）、
zip 吞吐量最高；推荐的是排在第一的镜像。没有任何请求成功的镜像永远不会被推荐。响应体
有大小上限（list 和 .mod 1 MiB，.info 64 KiB，.zip 500 MiB，以流方式读取）：超过上限
的请求算作失败。

不给 URL 时，比较的是镜像目录中的镜像：先是 go 命令自己的默认代理（"官方默认"，以
GOTOOLCHAIN=local 向 go 命令读取），然后是 gomirror 内置的公共镜像（表格中列出名称），
或者改用 --catalogue FILE 中的镜像，最后应用用户文件 ` + "`$XDG_CONFIG_HOME/gomirror/mirrors.yaml`" + `
（os.UserConfigDir）中的修改：id 与前面某项相同的条目替换它，"disabled: true" 删除它
（"id: official" 是 go 命令的默认代理，禁用后就不需要 go 命令；PATH 中没有 go 命令时
会跳过它并给出警告），同一个 URL 出现两次时
只测量一次（以后出现的条目为准）。某个镜像的请求连续失败 2 次后，本次运行不再测它。
文件格式见 docs/client-tools.md。

退出状态：推荐了某个镜像时为 0；用法错误，或没有任何镜像成功响应过请求时为 1（先输出报告）。`
