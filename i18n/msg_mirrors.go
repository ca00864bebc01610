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
	{"reading the go command's default proxy: %v", "读取 go 命令的默认代理失败：%v"},
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
	{"no mirror answered any request successfully", "没有任何镜像成功响应过请求"},
	{"the only mirror", "唯一的镜像"},
	{"the only mirror that answered successfully (%s of requests)", "唯一成功响应的镜像（%s 的请求成功）"},
	{"highest success rate: %s of requests, against %s for %s", "成功率最高：%s 的请求成功，%s 为 %s"},
	{"same success rate (%s) and lowest info+mod median latency: %s, against %s for %s", "成功率相同（%s），info+mod 延迟中位数最低：%s，%s 为 %s"},
	{"same success rate (%s), info+mod median latency within %s (%s, %s for %s), and highest zip throughput: %s MB/s, against %s MB/s", "成功率相同（%s），info+mod 延迟中位数相差在 %s 以内（%s，%s 为 %s），zip 吞吐量最高：%s MB/s，对方为 %s MB/s"},
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
var setupMessages = []entry{}
