package i18n

// doctorMessages are the texts of gomirror doctor and gomirror explain:
// doctor's results, steps, fixes and verdict, and explain's catalogue of
// error classes, its report and its --list table.
var doctorMessages = []entry{
	{"%s", "%s"},
	{"%s (not a release version; not compared)", "%s（不是正式发布版本，不做比较）"},
	{"%s is older than go1.21, which lacks toolchain management (GOTOOLCHAIN) and the go line checks of newer modules", "%s 早于 go1.21，没有工具链管理（GOTOOLCHAIN），也不支持较新模块的 go 行检查"},
	{"Install a current Go release from https://go.dev/dl/.", "从 https://go.dev/dl/ 安装当前的 Go 版本。"},
	{"GOPROXY=%q cannot be used: %v; every go command that downloads will fail", "GOPROXY=%q 无法使用：%v；所有需要下载的 go 命令都会失败"},
	{"Set a valid list, e.g. go env -w GOPROXY=https://your-mirror.example,direct", "设置一个有效的列表，例如 go env -w GOPROXY=https://your-mirror.example,direct"},
	{"GOPROXY ends in \"off\": nothing can be downloaded; any module not already in the module cache fails with \"module lookup disabled by GOPROXY=off\"", "GOPROXY 以 \"off\" 结尾：什么都无法下载；模块缓存中没有的模块都会失败，报错 \"module lookup disabled by GOPROXY=off\""},
	{"Point it at your mirror, e.g. gomirror setup https://your-mirror.example (or go env -w GOPROXY=https://your-mirror.example,direct)", "把它指向你的镜像，例如 gomirror setup https://your-mirror.example（或 go env -w GOPROXY=https://your-mirror.example,direct）"},
	{"GOPROXY ends in \"off\" after %s: a module those proxies do not have cannot be downloaded", "GOPROXY 在 %s 之后以 \"off\" 结尾：这些代理没有的模块无法下载"},
	{"If the proxies should not be the only source, end the list with direct: go env -w GOPROXY=%s,direct", "如果这些代理不应是唯一来源，请以 direct 结束列表：go env -w GOPROXY=%s,direct"},
	{"GOPROXY has no \"direct\" fallback: a module the proxies answer 404/410 for (one they cannot reach, e.g. a private one) cannot be fetched from its origin", "GOPROXY 没有 \"direct\" 回退：代理返回 404/410 的模块（代理无法访问的模块，例如私有模块）无法从源站获取"},
	{"go env -w GOPROXY=%s,direct (or list private modules in GOPRIVATE, which bypasses GOPROXY for them)", "go env -w GOPROXY=%s,direct（或把私有模块列入 GOPRIVATE，它们会绕过 GOPROXY）"},
	{"GOPROXY entries after \"direct\"/\"off\" are never used: %s", "GOPROXY 中 \"direct\"/\"off\" 之后的条目永远不会被使用：%s"},
	{"Move them before direct, or remove them.", "把它们移到 direct 之前，或删除它们。"},
	{"%s has pattern(s) that are not valid globs: %s; the go command never matches them, so the modules they were meant to cover are not private", "%s 中有不是有效通配符的模式：%s；go 命令永远不会匹配它们，因此它们本应覆盖的模块并未被视为私有模块"},
	{"go env -w %s=... with the pattern(s) corrected (path.Match syntax: *, ?, [a-z], \\ escapes)", "go env -w %s=...，并改正这些模式（path.Match 语法：*、?、[a-z]、\\ 转义）"},
	{"GONOSUMDB=%q is set explicitly and does not cover GOPRIVATE pattern(s) %s: private module paths are sent to the checksum database (and their downloads fail verification)", "GONOSUMDB=%q 被显式设置，且未覆盖 GOPRIVATE 的模式 %s：私有模块路径会被发送到校验和数据库（其下载也会校验失败）"},
	{"go env -w GONOSUMDB=%s (or go env -u GONOSUMDB to let it follow GOPRIVATE)", "go env -w GONOSUMDB=%s（或 go env -u GONOSUMDB，让它跟随 GOPRIVATE）"},
	{"GONOPROXY=%q does not cover GOPRIVATE pattern(s) %s: those private modules are requested from GOPROXY, which tells the proxy their paths (fine only if your own mirror serves them)", "GONOPROXY=%q 未覆盖 GOPRIVATE 的模式 %s：这些私有模块会向 GOPROXY 请求，代理因此得知其路径（只有当你自己的镜像提供它们时才没问题）"},
	{"go env -w GONOPROXY=%s, or go env -u GONOPROXY to let it follow GOPRIVATE", "go env -w GONOPROXY=%s，或 go env -u GONOPROXY 让它跟随 GOPRIVATE"},
	{"GOPRIVATE is not set", "未设置 GOPRIVATE"},
	{"GOPRIVATE=%s is covered by GONOSUMDB and GONOPROXY", "GOPRIVATE=%s 已被 GONOSUMDB 和 GONOPROXY 覆盖"},
	{"GOINSECURE is not set", "未设置 GOINSECURE"},
	{"GOINSECURE=%s (plain HTTP and unverified TLS allowed for these paths only)", "GOINSECURE=%s（仅这些路径允许明文 HTTP 和未经验证的 TLS）"},
	{"GOINSECURE pattern(s) %s cover public hosts: their modules may be fetched over plain HTTP or unverified TLS", "GOINSECURE 的模式 %s 覆盖了公共主机：其模块可能通过明文 HTTP 或未经验证的 TLS 获取"},
	{"Limit GOINSECURE to your own hosts, e.g. go env -w GOINSECURE=git.corp.internal (better: give them a trusted certificate and go env -u GOINSECURE)", "把 GOINSECURE 限制在你自己的主机上，例如 go env -w GOINSECURE=git.corp.internal（更好的做法：给它们配可信证书，然后 go env -u GOINSECURE）"},
	{"GOSUMDB=%s cannot be used: %v; every download of a module not yet in go.sum fails", "GOSUMDB=%s 无法使用：%v；所有 go.sum 中尚无记录的模块下载都会失败"},
	{"go env -u GOSUMDB for the default database, or set it to NAME+HASH+KEY exactly as the database's operator publishes it", "go env -u GOSUMDB 使用默认数据库，或者严格按数据库运营方公布的内容设置为 NAME+HASH+KEY"},
	{"GOSUMDB=off: no checksum verification for modules not yet in go.sum; a proxy or origin serving altered code is not detected", "GOSUMDB=off：go.sum 中尚无记录的模块不做校验和验证；代理或源站提供被篡改的代码时无法发现"},
	{"go env -u GOSUMDB (list private modules in GOPRIVATE or GONOSUMDB instead)", "go env -u GOSUMDB（改为把私有模块列入 GOPRIVATE 或 GONOSUMDB）"},
	{"GOSUMDB is empty (the go command's default database)", "GOSUMDB 为空（使用 go 命令的默认数据库）"},
	{"GOSUMDB=%s", "GOSUMDB=%s"},
	{"GOFLAGS holds %q, which is not a flag: every go command fails parsing $GOFLAGS", "GOFLAGS 中包含 %q，这不是一个标志：所有 go 命令都会在解析 $GOFLAGS 时失败"},
	{"go env -w GOFLAGS='<flags starting with ->' (or go env -u GOFLAGS)", "go env -w GOFLAGS='<以 - 开头的标志>'（或 go env -u GOFLAGS）"},
	{"GOFLAGS has -mod=mod: builds and tests silently change go.mod and go.sum instead of failing on a missing requirement", "GOFLAGS 中有 -mod=mod：构建和测试会悄悄修改 go.mod 和 go.sum，而不是在缺少依赖时报错"},
	{"Remove it (go env -w GOFLAGS=... without -mod=mod); run go mod tidy or go get when you mean to change go.mod", "删除它（go env -w GOFLAGS=...，去掉 -mod=mod）；需要修改 go.mod 时再运行 go mod tidy 或 go get"},
	{"GOFLAGS has -insecure, which the go command removed (Go 1.17): it is ignored, or makes go get fail", "GOFLAGS 中有 -insecure，go 命令已移除此标志（Go 1.17）：它会被忽略，或导致 go get 失败"},
	{"Remove it and use GOINSECURE=<your hosts> for the few hosts that need it", "删除它，只为确实需要的少数主机设置 GOINSECURE=<你的主机>"},
	{"GOFLAGS has %s, which no go command knows: it is silently ignored (a typo?)", "GOFLAGS 中有 %s，没有任何 go 命令认识它：它会被悄悄忽略（拼写错误？）"},
	{"Fix or remove it: go env -w GOFLAGS=... (see go help build)", "改正或删除它：go env -w GOFLAGS=...（参见 go help build）"},
	{"GOFLAGS is not set", "未设置 GOFLAGS"},
	{"GOFLAGS=%s", "GOFLAGS=%s"},
	{"no HTTP proxy set (HTTP_PROXY, HTTPS_PROXY)", "未设置 HTTP 代理（HTTP_PROXY、HTTPS_PROXY）"},
	{"HTTP_PROXY=%q HTTPS_PROXY=%q NO_PROXY=%q", "HTTP_PROXY=%q HTTPS_PROXY=%q NO_PROXY=%q"},
	{"%s; GOPROXY entries on a private network go through the HTTP proxy: %s", "%s；位于私有网络的 GOPROXY 条目会经过 HTTP 代理：%s"},
	{"Add them to NO_PROXY: export NO_PROXY=%s%s", "把它们加入 NO_PROXY：export NO_PROXY=%s%s"},
	{"GOMODCACHE is empty (GOPATH unset?): modules cannot be downloaded", "GOMODCACHE 为空（未设置 GOPATH？）：无法下载模块"},
	{"go env -w GOPATH=$HOME/go (or GOMODCACHE=<a writable directory>)", "go env -w GOPATH=$HOME/go（或 GOMODCACHE=<一个可写目录>）"},
	{"%s is not a directory", "%s 不是目录"},
	{"Remove or move %s, or go env -w GOMODCACHE=<a writable directory>", "删除或移走 %s，或 go env -w GOMODCACHE=<一个可写目录>"},
	{"%v", "%v"},
	{"Fix the permissions, or go env -w GOMODCACHE=<a writable directory>", "修正权限，或 go env -w GOMODCACHE=<一个可写目录>"},
	{"cannot write in %s: %v", "无法在 %s 中写入：%v"},
	{"Fix the permissions of %s (chown it to your user), or go env -w GOMODCACHE=<a writable directory>", "修正 %s 的权限（chown 给你的用户），或 go env -w GOMODCACHE=<一个可写目录>"},
	{"exists and is writable", "存在且可写"},
	{"does not exist yet; the go command can create it (%s is writable)", "尚不存在；go 命令可以创建它（%s 可写）"},
	{"%s; free space unknown on this system", "%s；此系统上可用空间未知"},
	{"%s; only %.1f MiB free", "%s；仅剩 %.1f MiB 可用空间"},
	{"Free disk space (go clean -modcache removes every cached module), or move the cache: go env -w GOMODCACHE=<a larger disk>", "释放磁盘空间（go clean -modcache 会删除所有已缓存的模块），或移动缓存：go env -w GOMODCACHE=<更大的磁盘>"},
	{"%s; %.1f GiB free", "%s；可用空间 %.1f GiB"},
	{"cannot run the go command: %v", "无法运行 go 命令：%v"},
	{"Install Go (https://go.dev/dl/) and put its bin directory on PATH.", "安装 Go（https://go.dev/dl/），并把其 bin 目录加入 PATH。"},
	{"cannot read go env: %v", "无法读取 go env：%v"},
	{"Run go env yourself and fix what it complains about (often a bad line in the file go env GOENV names).", "自己运行 go env，按它的报错修正（常见原因是 go env GOENV 所指文件中有一行写错了）。"},
	{"ok", "正常"},
	{"warn", "警告"},
	{"fail", "失败"},
	{"skip", "跳过"},
	{"      fix: %s\n", "      修复：%s\n"},
	{"suggestion: %s\n", "建议：%s\n"},
	{"verdict: %s (failed: %d, warnings: %d, checks: %d)\n", "结论：%s（失败：%d 项，警告：%d 个，检查：共 %d 项）\n"},
	{"lags behind the other proxies: its version lists lack %s", "落后于其他代理：其版本列表缺少 %s"},
	{"not compared: no list could be compared with another proxy's", "未比较：没有可以与其他代理比较的版本列表"},
	{"%s: no answer within %v", "%s：%v 内无应答"},
	{"The server accepts nothing or hangs: check that it runs and that no firewall drops the traffic, or remove it from GOPROXY.", "服务器不接受任何连接或挂起：检查它是否在运行、是否有防火墙丢弃流量，或把它从 GOPROXY 中移除。"},
	{"%s (slow: %v, over %v)", "%s（慢：%v，超过 %v）"},
	{"slow: %s", "慢：%s"},
	{"Every go command that downloads waits for this: check the network path to the server and its load, or use a mirror closer to you: %s", "所有需要下载的 go 命令都要等它：检查到服务器的网络路径及其负载，或使用离你更近的镜像：%s"},
	{"%s is not a directory: %v", "%s 不是目录：%v"},
	{"Create the directory or fix the file:// URL in GOPROXY.", "创建该目录，或修正 GOPROXY 中的 file:// URL。"},
	{"%s exists", "%s 存在"},
	{"directory exists", "目录存在"},
	{"an earlier step failed", "前面的步骤已失败"},
	{"through HTTP proxy %s", "经由 HTTP 代理 %s"},
	{"IP address", "IP 地址"},
	{"DNS lookup of %s failed: %v", "%s 的 DNS 解析失败：%v"},
	{"DNS lookup of %s: no such host", "%s 的 DNS 解析：没有这个主机"},
	{"Check the host name %s in GOPROXY, and this machine's DNS settings (VPN?)", "检查 GOPROXY 中的主机名 %s，以及本机的 DNS 设置（VPN？）"},
	{"TCP connect to %s: connection refused (nothing listens there)", "TCP 连接 %s：连接被拒绝（该端口没有服务在监听）"},
	{"Start the mirror (gomirror serve) on %s, or fix the host and port in GOPROXY.", "在 %s 上启动镜像（gomirror serve），或修正 GOPROXY 中的主机和端口。"},
	{"TCP connect to %s: %v", "TCP 连接 %s：%v"},
	{"Check that the server runs and that no firewall blocks the port, or fix the host and port in GOPROXY.", "检查服务器是否在运行、是否有防火墙拦截该端口，或修正 GOPROXY 中的主机和端口。"},
	{"connected to %s", "已连接到 %s"},
	{"%s, certificate for %s valid until %s", "%s，%s 的证书有效期至 %s"},
	{"the module proxy protocol check failed: %v", "模块代理协议检查失败：%v"},
	{"Check that GOPROXY names the mirror's base URL (what gomirror serve listens on, including any path prefix).", "检查 GOPROXY 是否写的是镜像的基础 URL（gomirror serve 监听的地址，包括路径前缀）。"},
	{"GET /%s/@v/list answered as a module proxy", "GET /%s/@v/list 按模块代理协议应答"},
	{"speaks the module proxy protocol", "支持模块代理协议"},
	{"Or add the CA to this machine's trust store (on Linux, SSL_CERT_FILE=<ca.pem> also works for the go command). GOINSECURE does not apply to GOPROXY.", "或者把该 CA 加入本机的信任库（在 Linux 上，SSL_CERT_FILE=<ca.pem> 对 go 命令同样有效）。GOINSECURE 对 GOPROXY 不起作用。"},
	{"TLS handshake with %s: self-signed certificate (%q, for %s), not trusted by this machine", "与 %s 的 TLS 握手：自签名证书（%q，用于 %s），本机不信任"},
	{"Give the server a certificate from a CA your machines trust. %s", "给服务器换一张你的机器信任的 CA 签发的证书。%s"},
	{"TLS handshake with %s: certificate signed by unknown authority (issued by %q)", "与 %s 的 TLS 握手：证书由未知机构签发（签发者 %q）"},
	{"Serve the full certificate chain, or use a certificate from a CA your machines trust. %s", "提供完整的证书链，或使用你的机器信任的 CA 签发的证书。%s"},
	{"TLS handshake with %s: certificate signed by unknown authority", "与 %s 的 TLS 握手：证书由未知机构签发"},
	{"TLS handshake with %s: hostname mismatch: the certificate is for %s", "与 %s 的 TLS 握手：主机名不匹配：证书是为 %s 签发的"},
	{"Use a name the certificate covers in GOPROXY, or reissue the certificate for %s.", "在 GOPROXY 中使用证书覆盖的名称，或为 %s 重新签发证书。"},
	{"TLS handshake with %s: certificate expired or not yet valid (%s)", "与 %s 的 TLS 握手：证书已过期或尚未生效（%s）"},
	{"Renew the server's certificate, and check this machine's clock.", "更新服务器的证书，并检查本机的时钟。"},
	{"TLS handshake with %s: %v", "与 %s 的 TLS 握手：%v"},
	{"Check that the server speaks HTTPS on this port (use http:// in GOPROXY if it does not).", "检查服务器在此端口上是否使用 HTTPS（如果不是，在 GOPROXY 中使用 http://）。"},
	{"The proxy says it serves the checksum database %s, so the go command does not ask the database itself: every download of a module not yet in go.sum fails while this does. Check the mirror's upstream (is it off or unreachable?) and its logs; or put a proxy that passes this check first in GOPROXY.", "该代理声称提供校验和数据库 %s，因此 go 命令不会直接访问数据库本身：只要这一检查失败，所有 go.sum 中尚无记录的模块下载都会失败。检查镜像的上游（是否被关闭或无法访问？）及其日志；或者把能通过此检查的代理放在 GOPROXY 的第一位。"},
	{"GET %s: %v", "GET %s：%v"},
	{"GET %s: %s (%s)", "GET %s：%s（%s）"},
	{"GET %s: %s", "GET %s：%s"},
	{"Check the mirror's checksum database settings and logs; the go command only falls back to the database itself on 404/410.", "检查镜像的校验和数据库设置和日志；只有在返回 404/410 时，go 命令才会回退到直接访问数据库。"},
	{"does not proxy the checksum database %s; the go command connects to it directly", "不代理校验和数据库 %s；go 命令会直接连接它"},
	{"no key for %s: %v", "没有 %s 的公钥：%v"},
	{"proxies the checksum database %s, but its signatures cannot be checked: %v", "代理了校验和数据库 %s，但无法验证其签名：%v"},
	{"Give GOSUMDB with its key (NAME+HASH+KEY), or make the Go installation readable (go env GOROOT), whose go command knows the default database's key.", "在 GOSUMDB 中带上公钥（NAME+HASH+KEY），或确保 Go 安装目录可读（go env GOROOT），其中的 go 命令知道默认数据库的公钥。"},
	{"The proxy serves checksum database data for %s that does not verify against the GOSUMDB key: it serves another database under this name, or altered data. Do not use it for this database: check go env GOSUMDB and the mirror's checksum database settings, or remove the proxy from GOPROXY.", "该代理为 %s 提供的校验和数据库数据无法用 GOSUMDB 的公钥验证：它以这个名字提供了另一个数据库，或者数据被篡改。不要用它访问这个数据库：检查 go env GOSUMDB 和镜像的校验和数据库设置，或把该代理从 GOPROXY 中移除。"},
	{"go.mod (or go.work) cannot be parsed", "无法解析 go.mod（或 go.work）"},
	{"Inconsistent vendoring", "vendor 目录不一致"},
	{"The module has a vendor directory (so the go command builds with -mod=vendor) but vendor/modules.txt does not match go.mod: a requirement was added, removed or changed in go.mod after go mod vendor last ran, or modules.txt was edited by hand.", "模块有 vendor 目录（因此 go 命令使用 -mod=vendor 构建），但 vendor/modules.txt 与 go.mod 不一致：上次运行 go mod vendor 之后 go.mod 中增加、删除或修改了依赖，或者有人手动编辑了 modules.txt。"},
	{"Run go mod vendor and commit the vendor directory with go.mod; or, to build without it, use -mod=mod or -mod=readonly (or delete vendor/).", "运行 go mod vendor，并把 vendor 目录和 go.mod 一起提交；或者不使用 vendor 目录构建：使用 -mod=mod 或 -mod=readonly（或删除 vendor/）。"},
	{"Private module looked up in the checksum database", "在校验和数据库中查询了私有模块"},
	{"The go command asked the checksum database (GOSUMDB) for a module it has never seen, which is what happens to a private module: the database answers 404/410 and the go command refuses the module.", "go 命令向校验和数据库（GOSUMDB）查询了一个它从未见过的模块，私有模块就会这样：数据库返回 404/410，go 命令拒绝该模块。"},
	{"Tell the go command the module is private: go env -w GOPRIVATE=example.com/yourorg/* (or only GONOSUMDB=example.com/yourorg/* to keep fetching it through GOPROXY). Do not set GOSUMDB=off for everything.", "告诉 go 命令这是私有模块：go env -w GOPRIVATE=example.com/yourorg/*（或者只设置 GONOSUMDB=example.com/yourorg/*，继续通过 GOPROXY 获取）。不要对所有模块设置 GOSUMDB=off。"},
	{"Checksum mismatch (SECURITY ERROR)", "校验和不匹配（SECURITY ERROR）"},
	{"The bytes downloaded for a module version differ from those recorded in go.sum or in the checksum database: the proxy or origin served different content, the version was re-tagged, or go.sum holds a wrong line.", "下载到的模块版本内容与 go.sum 或校验和数据库中记录的不一致：代理或源站提供了不同的内容、该版本被重新打了标签，或 go.sum 中有一行是错的。"},
	{"Do not just delete go.sum lines. Find out which side is wrong: run go clean -modcache and download again; if the mismatch is against go.sum only, check who changed that line (git log go.sum); if a proxy or mirror serves the wrong bytes, report it and fetch from another GOPROXY.", "不要直接删除 go.sum 中的行。先查清是哪一方错了：运行 go clean -modcache 后重新下载；如果只与 go.sum 不一致，查一下是谁改了那一行（git log go.sum）；如果是代理或镜像提供了错误的内容，请报告问题，并换一个 GOPROXY 获取。"},
	{"Missing go.sum entry", "缺少 go.sum 条目"},
	{"go.sum has no checksum for a module the build needs, and the go command may not add it (-mod=readonly is the default for builds and tests).", "go.sum 中没有构建所需模块的校验和，而 go 命令不允许自动添加（构建和测试默认使用 -mod=readonly）。"},
	{"Run go mod tidy (or the go get / go mod download command the message names) and commit go.sum.", "运行 go mod tidy（或报错信息中给出的 go get / go mod download 命令），并提交 go.sum。"},
	{"Authentication required", "需要身份验证"},
	{"The server (a git host or a proxy) asked for credentials and the go command had none to give; it disables git's terminal prompts, so git cannot ask you.", "服务器（git 托管服务或代理）要求提供凭据，而 go 命令没有可提供的凭据；go 命令禁用了 git 的终端提示，所以 git 无法询问你。"},
	{"Give credentials non-interactively: a ~/.netrc line \"machine HOST login USER password TOKEN\", a git credential helper, or GOAUTH; for private modules also set GOPRIVATE so they bypass the public proxy and checksum database. For a gomirror with tokens, see gomirror token add.", "以非交互方式提供凭据：~/.netrc 中的一行 \"machine HOST login USER password TOKEN\"、git 凭据助手，或 GOAUTH；对私有模块还要设置 GOPRIVATE，使其绕过公共代理和校验和数据库。对于启用了令牌的 gomirror，参见 gomirror token add。"},
	{"Newer Go or toolchain required", "需要更新的 Go 或工具链"},
	{"The main module or a dependency declares a go (or toolchain) version newer than the go command running, and the go command may not or cannot download that toolchain (GOTOOLCHAIN=local, or the toolchain is not available from GOPROXY).", "主模块或某个依赖声明的 go（或 toolchain）版本比当前运行的 go 命令新，而 go 命令不允许或无法下载该工具链（GOTOOLCHAIN=local，或无法从 GOPROXY 获取该工具链）。"},
	{"Install a newer Go, or allow switching with GOTOOLCHAIN=auto and make the toolchain modules downloadable through your GOPROXY; or lower the go line if it was raised by mistake.", "安装更新的 Go，或者用 GOTOOLCHAIN=auto 允许切换，并确保工具链模块可以通过你的 GOPROXY 下载；如果 go 行是误升的，把它改回去。"},
	{"Proxy failed (5xx)", "代理出错（5xx）"},
	{"The proxy answered with a server error: a mirror could not reach or verify against its own upstream (502), timed out (504) or is overloaded or out of storage (503).", "代理返回了服务器错误：镜像无法访问其上游或无法向上游验证（502）、超时（504），或过载、存储已满（503）。"},
	{"Read the \"server response\" line and the proxy's logs (gomirror logs the reason); retry; separate GOPROXY entries with '|' to fall back to the next one on any error.", "查看 \"server response\" 行和代理的日志（gomirror 会记录原因）；重试；用 '|' 分隔 GOPROXY 条目，可在出现任何错误时回退到下一个代理。"},
	{"Host name does not resolve", "主机名无法解析"},
	{"The host in the URL or module path has no DNS entry here: a typo in GOPROXY/GOSUMDB, a module path on an internal host, or no DNS in this environment.", "URL 或模块路径中的主机在此处没有 DNS 记录：GOPROXY/GOSUMDB 中有拼写错误、模块路径位于内部主机上，或当前环境没有 DNS。"},
	{"Check the host name in the message. For an internal module host, use the resolver that knows it (VPN) or fetch it through a mirror that can; in an offline environment use GOPROXY pointing at a reachable mirror or GOFLAGS=-mod=vendor.", "检查报错信息中的主机名。对于内部模块主机，使用能解析它的 DNS（VPN），或通过能访问它的镜像获取；在离线环境中，让 GOPROXY 指向一个可访问的镜像，或使用 GOFLAGS=-mod=vendor。"},
	{"Timeout", "超时"},
	{"A server accepted the connection (or was being dialled) but did not answer in time: the proxy, the checksum database or a firewall between is slow, overloaded or silently dropping packets.", "服务器接受了连接（或正在建立连接），但没有及时应答：代理、校验和数据库或中间的防火墙速度慢、过载，或在悄悄丢包。"},
	{"Check that the host in the message is reachable from this machine (curl -v the URL); check HTTPS_PROXY/NO_PROXY; retry later; if a proxy in GOPROXY is down, list a fallback after it with '|'.", "检查本机能否访问报错信息中的主机（用 curl -v 访问该 URL）；检查 HTTPS_PROXY/NO_PROXY；稍后重试；如果 GOPROXY 中的某个代理宕机，在它后面用 '|' 加一个回退代理。"},
	{"TLS certificate not trusted", "TLS 证书不受信任"},
	{"The HTTPS server's certificate could not be verified: it is self-signed or issued by a private CA this machine does not trust, expired, or issued for another host name.", "无法验证 HTTPS 服务器的证书：证书是自签名的，或由本机不信任的私有 CA 签发、已过期，或是为其他主机名签发的。"},
	{"If the server is yours, give it a certificate for the host name in GOPROXY, or add its CA to the system trust store (or SSL_CERT_FILE / SSL_CERT_DIR for the go command only). Use the host name the certificate is valid for. Do not use GOINSECURE to hide it.", "如果服务器是你的，给它配一张与 GOPROXY 中主机名相符的证书，或把它的 CA 加入系统信任库（或仅对 go 命令使用 SSL_CERT_FILE / SSL_CERT_DIR）。使用证书所对应的主机名。不要用 GOINSECURE 掩盖问题。"},
	{"Connection refused", "连接被拒绝"},
	{"Nothing listens at the host and port the go command connected to: the proxy or mirror is not running, or GOPROXY/GOSUMDB names the wrong port.", "go 命令连接的主机和端口上没有服务在监听：代理或镜像没有运行，或者 GOPROXY/GOSUMDB 中的端口写错了。"},
	{"Start the server (gomirror serve) or fix the URL in go env GOPROXY / GOSUMDB; add a fallback with GOPROXY=http://mirror|https://fallback if one should take over.", "启动服务器（gomirror serve），或修正 go env GOPROXY / GOSUMDB 中的 URL；如果需要由另一个代理接替，用 GOPROXY=http://mirror|https://fallback 添加回退。"},
	{"Forbidden or not available", "禁止访问或不可用"},
	{"The proxy refuses to serve this module (403): it is blocked by policy, or it is private and the proxy is public.", "代理拒绝提供此模块（403）：它被策略阻止，或者它是私有模块而代理是公共的。"},
	{"Fetch private modules directly: go env -w GOPRIVATE=example.com/yourorg/*; otherwise ask the proxy's owner whether the module is blocked.", "直接获取私有模块：go env -w GOPRIVATE=example.com/yourorg/*；否则请询问代理的所有者该模块是否被屏蔽。"},
	{"Proxy rejected the request (400 Bad Request)", "代理拒绝了请求（400 Bad Request）"},
	{"The proxy answered 400: it does not accept the module path or version as asked. Some proxies answer 400 rather than 404 for a path they do not serve (an unknown or private host, a path that is not a valid module path); a GOPROXY URL with a wrong path prefix can also cause it. With ',' between GOPROXY entries the go command falls back to the next only on 404/410, so a 400 stops it.", "代理返回 400：它不接受所请求的模块路径或版本。有些代理对它不提供的路径（未知或私有的主机、不是有效模块路径的路径）返回 400 而不是 404；GOPROXY URL 的路径前缀写错也会导致这种情况。GOPROXY 条目之间用 ',' 分隔时，go 命令只在 404/410 时才回退到下一个代理，所以遇到 400 就会停下。"},
	{"Check the module path and version in the message; for a private module set GOPRIVATE so it is not asked of the proxy; check the proxy URL in go env GOPROXY; to fall back to the next proxy on any error, separate the entries with '|'.", "检查报错信息中的模块路径和版本；对私有模块设置 GOPRIVATE，使其不经过代理；检查 go env GOPROXY 中的代理 URL；要在出现任何错误时回退到下一个代理，请用 '|' 分隔各条目。"},
	{"Unknown revision or invalid version", "未知的修订版本或无效的版本号"},
	{"The version, tag, branch or commit asked for does not exist in the module's repository (a typo, a tag not pushed, a deleted version), or the version string is not valid for this module path (e.g. v2+ without /v2).", "所请求的版本、标签、分支或提交在模块的仓库中不存在（拼写错误、标签未推送、版本已删除），或者版本号对该模块路径无效（例如 v2 及以上版本的路径没有 /v2）。"},
	{"List the versions that exist (go list -m -versions MODULE) and use one of them; push the missing tag; for v2 and later use the /vN module path.", "列出现有的版本（go list -m -versions MODULE）并使用其中之一；推送缺失的标签；v2 及以上版本请使用 /vN 模块路径。"},
	{"Module or version not found", "找不到模块或版本"},
	{"The proxy has no such module or version (404/410). Either the path or version is wrong, or the module is private and the public proxy cannot see it.", "代理上没有这个模块或版本（404/410）。要么路径或版本写错了，要么这是私有模块，公共代理看不到它。"},
	{"Check the module path and version. For a private module: go env -w GOPRIVATE=example.com/yourorg/* so it is fetched directly; or serve it from your own mirror.", "检查模块路径和版本。对于私有模块：go env -w GOPRIVATE=example.com/yourorg/*，让它直接获取；或者由你自己的镜像提供。"},
	{"Module zip too large", "模块 zip 过大"},
	{"The module's files exceed the go command's limits (500 MB unpacked zip, 16 MB go.mod), usually because generated or binary files are committed in the module.", "模块的文件超出了 go 命令的限制（解压后的 zip 500 MB，go.mod 16 MB），通常是因为模块中提交了生成文件或二进制文件。"},
	{"Exclude the large files from the module (move them to a directory with its own go.mod, or out of the repository) and tag a new version.", "把大文件排除在模块之外（移到有自己 go.mod 的目录中，或移出仓库），然后打一个新版本的标签。"},
	{"Invalid GOSUMDB or checksum database key", "GOSUMDB 或校验和数据库公钥无效"},
	{"GOSUMDB is not a valid database name and key, or the key does not match the database's signatures.", "GOSUMDB 不是有效的数据库名和公钥，或者公钥与数据库的签名不匹配。"},
	{"Leave GOSUMDB at its default, or set it to \"NAME+KEY [URL]\" exactly as the database's owner publishes it.", "保持 GOSUMDB 为默认值，或严格按数据库所有者公布的内容设置为 \"NAME+KEY [URL]\"。"},
	{"Network lookups disabled (GOPROXY=off)", "网络查询已禁用（GOPROXY=off）"},
	{"GOPROXY=off forbids the go command to download modules, and the module is not in the module cache.", "GOPROXY=off 禁止 go 命令下载模块，而模块缓存中没有该模块。"},
	{"Set GOPROXY to your mirror (go env -w GOPROXY=http://127.0.0.1:3000) or download the module while online first; or vendor dependencies and build with -mod=vendor.", "把 GOPROXY 设为你的镜像（go env -w GOPROXY=http://127.0.0.1:3000），或先在联网时下载该模块；或者把依赖放进 vendor 目录，用 -mod=vendor 构建。"},
	{"Invalid go environment setting", "go 环境设置无效"},
	{"A GOPROXY, GOFLAGS or other go env value cannot be parsed.", "GOPROXY、GOFLAGS 或其他 go env 的值无法解析。"},
	{"Inspect go env (and GOENV's file: go env GOENV); fix or unset the variable named in the message (go env -u NAME).", "检查 go env（以及 GOENV 所指的文件：go env GOENV）；修正或清除报错信息中提到的变量（go env -u NAME）。"},
	{"Malformed module or import path", "模块路径或导入路径格式错误"},
	{"The path is not a valid module path: the first element must be a host name with a dot, no upper-case letters in some places, no trailing slash, and so on.", "该路径不是有效的模块路径：第一段必须是带点的主机名，某些位置不能有大写字母，末尾不能有斜杠，等等。"},
	{"Fix the path in the import or go.mod (module paths look like example.com/org/repo); for a local module use a replace directive or a go.work file.", "修正 import 或 go.mod 中的路径（模块路径形如 example.com/org/repo）；对于本地模块，使用 replace 指令或 go.work 文件。"},
	{"Not in a module", "不在模块中"},
	{"The command needs a main module but there is no go.mod in this directory or any parent (or GO111MODULE=off).", "该命令需要主模块，但当前目录及其所有上级目录中都没有 go.mod（或 GO111MODULE=off）。"},
	{"Run it inside the module, or create one with go mod init example.com/m; for a single tool use go install PATH@VERSION.", "在模块目录中运行它，或用 go mod init example.com/m 创建一个模块；如果只是安装单个工具，请用 go install PATH@VERSION。"},
	{"Unknown error", "未知错误"},
	{"no known cause", "原因未知"},
	{"none known: read the message itself.", "未知：请直接阅读报错信息。"},
	{"line %d:\n", "第 %d 行：\n"},
	{"  unknown: %s\n", "  未知：%s\n"},
	{"  cause: %s\n", "  原因：%s\n"},
	{"  fix:   %s\n", "  修复：%s\n"},
	{"no errors found\n", "未发现错误\n"},
	{"ID", "ID"},
	{"Symptom", "症状"},
	{"Cause", "原因"},
	{"Fix", "修复方法"},
	{"explain --list takes no FILE", "explain --list 不接受 FILE 参数"},
	{"proxy URLs: %d, with direct fallback", "代理 URL：%d 个，带 direct 回退"},
	{"GOSUMDB=%s names a checksum database whose key the go command does not know: it refuses to download any module not yet in go.sum", "GOSUMDB=%s 指定的校验和数据库，go 命令不知道它的公钥：任何尚未记录在 go.sum 中的模块，go 命令都会拒绝下载"},
	{"go env -u GOSUMDB for the default database, or give the database with its key: go env -w GOSUMDB=NAME+HASH+KEY (as its operator publishes it)", "go env -u GOSUMDB 恢复默认数据库，或连同公钥一起指定数据库：go env -w GOSUMDB=NAME+HASH+KEY（按其运营方公布的写法）"},
	{"%s, the first proxy in GOPROXY, is slow", "GOPROXY 中的第一个代理 %s 很慢"},
	{"%s, the first proxy in GOPROXY, fails", "GOPROXY 中的第一个代理 %s 检查失败"},
	{"%s, the first proxy in GOPROXY, lags", "GOPROXY 中的第一个代理 %s 不同步（落后于其他代理）"},
	{"%s: %s. If it also serves your private modules, keep it first in GOPROXY for them (e.g. GOPROXY=%s,<public mirror>,direct, or a profile for the office: gomirror setup --profile) and list them in GONOSUMDB; GOPRIVATE instead makes them bypass every proxy, fetched directly from version control.", "%s：%s。如果它还提供你的私有模块，请让它在 GOPROXY 中保持第一位（例如 GOPROXY=%s,<公共镜像>,direct，或为办公室建一个配置方案：gomirror setup --profile），并把这些模块列入 GONOSUMDB；而 GOPRIVATE 会让它们绕过所有代理，直接从版本控制系统获取。"},
	{"not checked: one proxy in GOPROXY and no --compare URL to compare its lists with (gomirror doctor --compare URL)", "未检查：GOPROXY 中只有一个代理，也没有用来比较版本列表的 --compare URL（gomirror doctor --compare URL）"},
	{"%s: private (GONOPROXY/GOPRIVATE): the go command does not ask a proxy for it; not compared", "%s：私有模块（GONOPROXY/GOPRIVATE），go 命令不会向代理请求它；不做比较"},
	{"%s: the list could not be read (%s); not compared", "%s：无法读取版本列表（%s）；不做比较"},
	{"%s: no other proxy answered; not compared", "%s：没有其他代理应答；不做比较"},
	{"%s: versions: %d, as many as the others list", "%s：版本数：%d，与其他代理列出的一样多"},
	{"%s: missing versions that %s list: %d: %s", "%s：缺少 %s 列出的版本，数量：%d：%s"},
	{"%s; missing, published within %v (not counted): %d", "%s；缺少但在 %v 内刚发布（不计入）的版本数：%d"},
	{"Through this proxy, go get M@latest and go get -u resolve to an older version, and a go get of a missing version fails (or, with '|' or ',' fallbacks, goes on to the next proxy): tell its operator that it is out of date, or put an up-to-date mirror first in GOPROXY (gomirror setup --fastest measures the public ones).", "通过这个代理，go get M@latest 和 go get -u 会解析到较旧的版本，go get 缺少的版本会失败（或在有 '|' 或 ',' 回退时转向下一个代理）：请告知其运营方镜像已不同步，或把一个同步的镜像放在 GOPROXY 的第一位（gomirror setup --fastest 会测量各公共镜像）。"},
	{"lists the same versions as the other proxies (modules compared: %d)", "与其他代理列出的版本相同（比较的模块数：%d）"},
	{"the go command knows no key for %s", "go 命令不知道 %s 的公钥"},
	{"GET %s: answer larger than %d bytes", "GET %s：应答超过 %d 字节"},
	{"GET %s: no answer within %v", "GET %s：%v 内没有应答"},
	{"The proxy answered the earlier steps but not this one in time: its upstream for the checksum database %s is slow or unreachable. Check the mirror's logs and its route to its upstream.", "代理及时应答了前面的步骤，这一步却超时了：它的校验和数据库 %s 上游很慢或无法访问。请检查镜像的日志以及它到上游的网络。"},
	{"the list of %s could not be read: %v", "无法读取 %s 的版本列表：%v"},
	{"the list of %s: %s", "%s 的版本列表：%s"},
	{"the proxy lists no release of %s to look up", "代理没有列出 %s 的可供查询的正式版本"},
	{"not checked: GOSUMDB cannot be used (see the gosumdb check)", "未检查：GOSUMDB 无法使用（见 gosumdb 检查）"},
	{"GET %s/supported: %s (the go command asks %s directly)", "GET %s/supported：%s（go 命令直接访问 %s）"},
	{"%s: checksum database lookups through this proxy fail", "%s：通过这个代理查询校验和数据库会失败"},
	{"GET %s/supported: 200 OK", "GET %s/supported：200 OK"},
	{"%s is private (GONOSUMDB/GOPRIVATE): the go command does not look it up", "%s 是私有模块（GONOSUMDB/GOPRIVATE）：go 命令不会在校验和数据库中查询它"},
	{"lookup not checked: %s", "未检查查询（lookup）：%s"},
	{"Check the proxy's list of %s (doctor's --probe-module names another module).", "请检查代理中 %s 的版本列表（可用 doctor 的 --probe-module 指定其他模块）。"},
	{"%s: no lookup made", "%s：没有发出查询"},
	{"%s: %s", "%s：%s"},
	{"the lookup failed", "查询失败"},
	{"GET %s: the tree head is not signed with the GOSUMDB key of %s: %s", "GET %s：树头没有用 %s 的 GOSUMDB 公钥签名：%s"},
	{"GET %s: the record does not hold %s", "GET %s：记录中没有 %s"},
	{"%s: record in the signed tree of size %d, signature verified with the %s key", "%s：记录位于大小为 %d 的已签名树中，签名已用 %s 的公钥验证"},
	{"the tiles served do not prove the record in its signed tree: %s", "代理提供的瓦片（tile）不能证明该记录在其已签名树中：%s"},
	{"tiles: %d (%d bytes), proving the record in the signed tree", "瓦片：%d 个（%d 字节），证明了记录在已签名树中"},
	{"proxies the checksum database %s: lookup and tiles verified", "代理校验和数据库 %s：查询和瓦片均已验证"},
	{"proxies the checksum database %s", "代理校验和数据库 %s"},
	{"The go command never reads latest through a proxy (it verifies lookups and tiles), so downloads still work; but this mirror's copy of the checksum database %s is not served whole: check its upstream and logs.", "go 命令从不通过代理读取 latest（它验证的是查询和瓦片），所以下载仍然正常；但这个镜像提供的校验和数据库 %s 不完整：请检查它的上游和日志。"},
	{"%s; but latest failed: %s", "%s；但 latest 失败：%s"},
	{"GET %s/latest: the tree head is not signed with the GOSUMDB key of %s: %s", "GET %s/latest：树头没有用 %s 的 GOSUMDB 公钥签名：%s"},
	{"signed tree head of size %d, signature verified with the %s key", "大小为 %d 的已签名树头，签名已用 %s 的公钥验证"},
	{"%s; but not consistent with the lookup's signed tree: %s", "%s；但与查询所在的已签名树不一致：%s"},
	{"two signed trees of the checksum database %s served by this proxy are inconsistent: %s", "这个代理提供的校验和数据库 %s 的两棵已签名树互相矛盾：%s"},
	{"A go command holding one of these trees refuses the other with a SECURITY ERROR. Remove the proxy from GOPROXY and report it to its operator (and to the database's operator if the signatures are genuine).", "持有其中一棵树的 go 命令会以 SECURITY ERROR 拒绝另一棵。请把这个代理从 GOPROXY 中移除，并报告给它的运营方（如果签名是真的，也报告给数据库的运营方）。"},
	{"two signed trees of size %d with different hashes", "两棵大小同为 %d 的已签名树，哈希却不同"},
	{"%s; consistent with the lookup's tree", "%s；与查询所在的树一致"},
	{"%s; consistency with the lookup's tree not checked (%s)", "%s；未检查与查询所在的树是否一致（%s）"},
	{"%s; consistency with the lookup's tree not proven: %s", "%s；无法证明与查询所在的树一致：%s"},
	{"answer larger than %d bytes", "应答超过 %d 字节"},
	{"\nerrors: %d (explained: %d, unknown: %d)\n", "\n错误：%d 个（已解释：%d，未知：%d）\n"},
	{"doctor: checks failed: %d", "doctor：失败的检查：%d 项"},
	// gomirror doctor --help and gomirror explain --help (keys: the Long texts and flag usages, verbatim).
	{`Check this machine's go command settings (read with go version and
go env -json) and its route to every proxy in GOPROXY, and print a verdict
per check, ok, warn or fail, with a fix for every problem:

  - the go version (warn below go1.21);
  - GOPROXY syntax, "off", a missing direct fallback; GOPRIVATE against
    GONOSUMDB and GONOPROXY; GOINSECURE; GOSUMDB (off, or a name the go
    command knows no key for); GOFLAGS;
  - HTTP_PROXY, HTTPS_PROXY and NO_PROXY;
  - for every proxy: DNS, TCP connect, TLS handshake (naming an unknown
    authority, a self-signed certificate, a hostname mismatch or an expired
    certificate) and GET <proxy>/<probe module>/@v/list, each with its
    latency;
  - the checksum database through every proxy that says it serves it
    (<proxy>/sumdb/<name>/supported), checked with the go command's own
    client as a go command with an empty go.sum uses it: the lookup of the
    probe module's newest release (its tree head verified with the GOSUMDB
    key; for a bare name, the key the go command knows) and the tiles that
    prove its record in that signed tree. A proxy whose upstream is off or
    broken fails here, naming the step. Then latest, which the go command
    never reads through a proxy: a failure is a warning; two signed trees
    that contradict each other fail. A probe module covered by GONOSUMDB or
    GOPRIVATE is not looked up; one the proxy does not hold (its list is
    404, e.g. a mirror with its upstream off that never fetched it) leaves
    the lookup unchecked, a warning that says so;
  - lag: with two or more proxies in GOPROXY (or --compare URLs), the
    version lists of the probe module and --lag-modules from each (modules
    covered by GONOPROXY or GOPRIVATE are skipped); a proxy whose list lacks
    releases another lists, published more than --lag-grace ago, is a
    warning naming them. With one proxy and no --compare, doctor says lag
    was not checked;
  - the module cache (GOMODCACHE): creatable, writable, free space.

When the first proxy in GOPROXY is slow, failing or lagging, doctor
suggests gomirror setup --fastest (not for a warning on latest alone). Proxy URLs are shown without their
password. Output is in Chinese under a zh locale (LANG=zh_CN.UTF-8) or
with --lang zh; --json is always English.

Every network step has its own --timeout; a step slower than --slow is a
warning. Exit status 1 if any check fails; 0 when every check is ok or
only warns.`,
		`检查本机 go 命令的设置（用 go version 和 go env -json 读取）以及到 GOPROXY
中每个代理的连接，并对每项检查给出结论：ok、warn 或 fail，每个问题都附有
修复方法：

  - go 版本（低于 go1.21 时警告）；
  - GOPROXY 语法、"off"、缺少 direct 回退；GOPRIVATE 与 GONOSUMDB、
    GONOPROXY 是否一致；GOINSECURE；GOSUMDB（off，或 go 命令不知道公钥的
    名称）；GOFLAGS；
  - HTTP_PROXY、HTTPS_PROXY 和 NO_PROXY；
  - 每个代理：DNS、TCP 连接、TLS 握手（指出未知的证书颁发机构、自签名证书、
    主机名不匹配或证书过期）以及 GET <代理>/<探测模块>/@v/list，并给出
    各自的延迟；
  - 通过每个声明提供校验和数据库的代理（<代理>/sumdb/<名称>/supported）检查
    校验和数据库：用 go 命令自己的客户端，按 go.sum 为空的 go 命令的方式：
    查询探测模块最新的正式版本（其树头用 GOSUMDB 公钥验证；只给了名称时，
    使用 go 命令已知的公钥），再获取证明该记录在这棵已签名树中的瓦片（tile）。
    上游关闭或出故障的代理会在这里失败，并指出是哪一步。然后检查 latest，
    go 命令从不通过代理读取它：失败只算警告；两棵互相矛盾的已签名树则判为
    失败。GONOSUMDB 或 GOPRIVATE 覆盖的探测模块不会被查询；代理没有的探测模块
    （其版本列表为 404，例如上游关闭、从未获取过它的镜像）则无法检查查询，
    给出一条说明原因的警告；
  - 不同步（lag）：GOPROXY 中有两个或更多代理（或给了 --compare URL）时，
    比较各代理上探测模块和 --lag-modules 的版本列表（跳过 GONOPROXY 或
    GOPRIVATE 覆盖的模块）；某个代理缺少其他代理列出、且发布时间早于
    --lag-grace 的正式版本时，给出警告并列出这些版本。只有一个代理且没有
    --compare 时，doctor 会说明没有检查不同步；
  - 模块缓存（GOMODCACHE）：能否创建、是否可写、剩余空间。

当 GOPROXY 中的第一个代理很慢、失败或不同步时，doctor 会建议运行
gomirror setup --fastest（仅 latest 出现警告时不建议）。显示代理 URL 时不含密码。在中文区域设置下
（LANG=zh_CN.UTF-8）或使用 --lang zh 时输出中文；--json 始终是英文。

每个网络步骤都有自己的 --timeout；比 --slow 慢的步骤算作警告。任何检查
失败时退出状态为 1；所有检查都正常或只有警告时为 0。`},
	{`Read what the go command printed (from FILE, or standard input) and say, for
every error in it, what most likely caused it and how to fix it:

	go mod download 2>&1 | gomirror explain

An error is a line with the indented lines that continue it; progress lines
such as "go: downloading ..." are skipped. An error that matches no known
class is reported as unknown, with no guess.

--list prints the whole catalogue of classes as a table: id, symptom,
cause and fix, long cells wrapped to the terminal width (COLUMNS, else 100
columns); with --json, as a JSON array.

Output is in Chinese under a zh locale (LANG=zh_CN.UTF-8) or with
--lang zh; --json is always English.

Exit status: 0 once the input was read, whether or not its errors were all
explained (the summary line and --json's "unknown" count say); 1 for a usage
error or input that cannot be read.`,
		`读取 go 命令的输出（来自 FILE 或标准输入），对其中的每个错误说明最可能
的原因和修复方法：

	go mod download 2>&1 | gomirror explain

一个错误是一行加上接续它的缩进行；"go: downloading ..." 这样的进度行会被
跳过。不属于任何已知类别的错误报告为未知，不做猜测。

--list 以表格形式打印全部错误类别：编号、症状、原因和修复方法，过长的
单元格按终端宽度换行（COLUMNS，否则 100 列）；配合 --json 时输出 JSON 数组。

在中文区域设置下（LANG=zh_CN.UTF-8）或使用 --lang zh 时输出中文；--json
始终是英文。

退出状态：读完输入即为 0，无论其中的错误是否都得到了解释（摘要行和 --json
的 "unknown" 计数会说明）；用法错误或无法读取输入时为 1。`},
	{"print the doctor report as JSON (always English) instead of text", "以 JSON（始终是英文）而不是文本打印 doctor 报告"},
	{"module whose version list the protocol check asks for", "协议检查时请求其版本列表的模块"},
	{"modules, besides the probe module, whose version lists are compared across proxies", "除探测模块外，要在各代理间比较版本列表的模块"},
	{"proxy URLs to compare GOPROXY's version lists with (references, not reported on)", "用来与 GOPROXY 的版本列表比较的代理 URL（仅作参照，不对其出报告）"},
	{"a version another proxy lists counts as missing only when published longer ago than this", "其他代理列出的版本，只有发布时间早于此值时才算缺失"},
	{"time limit for each check step", "每个检查步骤的时间限制"},
	{"a step slower than this is a warning", "比这更慢的步骤算作警告"},
	{"print the explanations (or with --list the catalogue) as JSON, always English", "以 JSON 打印解释（配合 --list 时打印错误类别目录），始终是英文"},
	{"print the catalogue of known error classes as a table", "以表格形式打印已知错误类别的目录"},
	{"A line of go.mod (or go.work) cannot be used: it is not valid syntax (an unknown directive: a typo, or one newer than this go command; a require or replace without a version; a bad quote or parenthesis), or it names a version that is not canonical (a branch, a tag name, latest), which the go command first resolves through GOPROXY: the error of that request (a 400, a 404) is then reported at the go.mod line.", "go.mod（或 go.work）中有一行无法使用：要么语法不对（未知指令：拼写错误，或比当前 go 命令更新的指令；没有版本的 require 或 replace；引号或括号不匹配），要么写的版本不是规范版本（分支名、标签名、latest），go 命令要先通过 GOPROXY 解析它：这个请求的错误（400、404 等）就会报在 go.mod 的这一行上。"},
	{"Open the file at the line the message names and fix it (go help go.mod lists the syntax; a require line is \"module/path v1.2.3\", a canonical version); go mod edit -fmt shows whether the file parses. If the directive is newer than your Go, upgrade Go. If the line's version had to be resolved, the error after it is the proxy's: see its own explanation.", "打开报错信息所指的那一行并改正（go help go.mod 列出了语法；require 行的格式是 \"module/path v1.2.3\"，即规范版本）；go mod edit -fmt 可以检查文件能否解析。如果该指令比你的 Go 版本新，请升级 Go。如果这一行的版本需要解析，其后的错误来自代理：请看该错误本身的解释。"},
	{"lookup and tiles not checked: the proxy does not hold %s (%s), so no checksum database lookup through it could be made", "未检查查询（lookup）和瓦片（tiles）：该代理没有 %s（%s），因此无法通过它查询校验和数据库"},
	{"list: %s", "版本列表：%s"},
	{"A mirror whose upstream is off (gomirror serve --upstream off) serves only what it holds: the go command's downloads and checksum lookups of modules it lacks fail too. Fetch what your projects need while it is online (gomirror warm --sumdb in each project), or turn its upstream on; or name a module it holds with doctor's --probe-module.", "上游关闭的镜像（gomirror serve --upstream off）只提供它已存有的内容：它没有的模块，go 命令的下载和校验和查询同样会失败。请在镜像联网时预先获取项目所需的内容（在每个项目中运行 gomirror warm --sumdb），或打开它的上游；也可以用 doctor 的 --probe-module 指定一个它存有的模块。"},
	{"Mirror is offline and does not hold it", "镜像处于离线状态，且没有存储它"},
	{"The mirror (a gomirror with its upstream off) serves only what it stores and makes no outbound connections: this module version, its list, or its checksum database record was never fetched into it.", "该镜像（上游关闭的 gomirror）只提供它已存储的内容，不会向外发起任何连接：这个模块版本、它的版本列表或它在校验和数据库中的记录从未被获取到镜像里。"},
	{"Fetch what the project needs into the mirror while it is online (gomirror warm --sumdb in the project), or import a bundle made where it is online (gomirror bundle import), or turn the mirror's upstream on; if the mirror is not yours, ask its operator.", "在镜像联网时把项目所需的内容预先获取进去（在项目中运行 gomirror warm --sumdb），或导入在联网环境中制作的离线包（gomirror bundle import），或打开镜像的上游；如果镜像不归你管理，请联系其运维人员。"},
	{"Checksum database answer not signed with the GOSUMDB key", "校验和数据库的应答未用 GOSUMDB 公钥签名"},
	{"The checksum database's signed tree head carries no signature the go command can verify with the key it has for GOSUMDB: the key in GOSUMDB is wrong or belongs to another database, a proxy in GOPROXY serves another database under this name, or GOPATH/pkg/sumdb holds a tree of another database of the same name.", "校验和数据库的已签名树头上没有 go 命令能用 GOSUMDB 公钥验证的签名：GOSUMDB 中的公钥有误或属于另一个数据库；GOPROXY 中的某个代理以这个名称提供了另一个数据库；或者 GOPATH/pkg/sumdb 中存有同名的另一个数据库的树。"},
	{"Check go env GOSUMDB against the key the database's operator publishes (or unset it: go env -u GOSUMDB for the default); if a proxy serves the database (<proxy>/sumdb/<name>/supported), check that mirror's checksum database settings (gomirror doctor checks this through each proxy); remove a stale GOPATH/pkg/sumdb/<name> directory.", "把 go env GOSUMDB 与数据库运营方公布的公钥核对（或用 go env -u GOSUMDB 恢复默认值）；如果由代理提供该数据库（<代理>/sumdb/<名称>/supported），请检查该镜像的校验和数据库设置（gomirror doctor 会逐个代理检查这一点）；删除过时的 GOPATH/pkg/sumdb/<名称> 目录。"},
}
