package i18n

import "slices"

// mirrorsMessages are the texts of the public mirror catalogue, gomirror setup and gomirror bench.
var mirrorsMessages = slices.Concat(catalogueMessages, benchMessages, benchCmdMessages, setupMessages)

// client/mirrors: the catalogue.
var catalogueMessages = []entry{
	// client/mirrors: the catalogue.
	{"official default", "官方默认"},
	{"catalogue %s: %v", "镜像目录 %s：%v"},
	{"catalogue %s, line %d: %v", "镜像目录 %s 第 %d 行：%v"},
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
	{"\n%s sample(s) of %s module versions (%s)\n", "\n%s 轮采样，%s 个模块版本（%s）\n"},
	{"Recommended: %s (%s)\n", "推荐：%s（%s）\n"},
	{"No recommendation: %s\n", "无法推荐：%s\n"},
	{"%s: ... and %s more kinds of failure\n", "%s：……以及另外 %s 种失败\n"},
	{"%s: %s requests skipped after %s failures in a row\n", "%s：连续失败 %[3]s 次后，跳过了其余 %[2]s 个请求\n"},
	{"no mirror answered any request successfully", "没有任何镜像成功响应过请求"},
	{"the only mirror", "唯一的镜像"},
	{"the only mirror that answered successfully (%s of requests)", "唯一成功响应的镜像（%s 的请求成功）"},
	{"highest success rate: %s of requests, against %s for %s", "成功率最高：%[1]s 的请求成功，而 %[3]s 为 %[2]s"},
	{"same success rate (%s) and lowest info+mod median latency: %s, against %s for %s", "成功率相同（%[1]s），info+mod 延迟中位数最低：%[2]s，而 %[4]s 为 %[3]s"},
	{"same success rate (%s), info+mod median latency within %s (%s, %s for %s), and highest zip throughput: %s MB/s, against %s MB/s", "成功率相同（%[1]s），info+mod 延迟中位数相差在 %[2]s 以内（%[3]s，而 %[5]s 为 %[4]s），zip 吞吐量最高：%[6]s MB/s，而 %[5]s 为 %[7]s MB/s"},
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
