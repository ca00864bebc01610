package i18n

// warmMessages are the texts of gomirror warm and gomirror graph.
var warmMessages = []entry{
	// gomirror warm: arguments.
	{"give the mirror URL with --mirror", "请用 --mirror 指定镜像的 URL"},
	{"--mirror %q: want an http or https URL", "--mirror %q：需要 http 或 https 开头的 URL"},
	{"--jobs %v: want at least 1", "--jobs %v：至少为 1"},
	{"give one go.mod file, or module@version arguments", "请给出一个 go.mod 文件，或者若干 module@version 参数"},
	// gomirror warm: progress and summary.
	{"resolving the module graph of %s through %s\n", "正在通过 %[2]s 解析 %[1]s 的模块依赖图\n"},
	{"resolving the module graph: %v", "解析模块依赖图失败：%v"},
	{"the build needs modules that could not be downloaded:\n\t%s", "构建所需的模块无法下载：\n\t%s"},
	{"fetching %d files of %d modules, %d at a time\n", "正在拉取 %[2]d 个模块的 %[1]d 个文件，并发数 %[3]d\n"},
	{"\r[%s%s] %d/%d files, %s, failed: %d, warnings: %d", "\r[%s%s] %d/%d 个文件，%s，失败：%d，警告：%d"},
	{"warm: %d/%d files, %s, failed: %d, warnings: %d\n", "warm：%d/%d 个文件，%s，失败：%d，警告：%d\n"},
	{"modules: %d\nfiles fetched: %d\nbytes: %v (%s)\nfailures: %d\n", "模块：%d\n已拉取文件：%d\n字节数：%v（%s）\n失败：%d\n"},
	{"warnings: %d\n", "警告：%d\n"},
	{"  %s: %s (not needed to build)\n", "  %s：%s（构建不需要此文件）\n"},
	{"%d of %d files could not be fetched", "%[2]d 个文件中有 %[1]d 个无法拉取"},
	// gomirror warm --sumdb.
	{"--sumdb: reading go env GOSUMDB: %v", "--sumdb：读取 go env GOSUMDB 失败：%v"},
	{"--sumdb: GOSUMDB %q: %v", "--sumdb：GOSUMDB %q：%v"},
	{"--sumdb: GOSUMDB is off: clients check no checksum database, there is nothing to fetch", "--sumdb：GOSUMDB 为 off，客户端不查询校验和数据库，无需拉取"},
	{"checksum database key %q: %v", "校验和数据库公钥 %q：%v"},
	{"the mirror does not proxy the checksum database %s: %v", "该镜像不代理校验和数据库 %s：%v"},
	{"looking up %d module versions in the checksum database %s through %s\n", "正在通过 %[3]s 在校验和数据库 %[2]s 中查询 %[1]d 个模块版本\n"},
	{"checksum database lookups: %d\nchecksum database files fetched: %d\nchecksum database bytes: %v (%s)\nexempt (GONOSUMDB): %d\nlookup failures: %d\n",
		"校验和数据库查询：%d\n校验和数据库已拉取文件：%d\n校验和数据库字节数：%v（%s）\n免检（GONOSUMDB）：%d\n查询失败：%d\n"},
	{"the local go command's checksum database tree: %v", "本地 go 命令的校验和数据库树：%v"},
	{"also proven from the local go command's tree of %d records\n", "并已从本地 go 命令已知的树（%d 条记录）完成一致性证明\n"},
	{"checksum database lookups failed: %d", "校验和数据库查询失败：%d 个"},
	// gomirror graph (the graph itself, Mermaid, DOT or JSON, is data and
	// stays as it is).
	{"give one directory or go.mod file", "请给出一个目录或 go.mod 文件"},
	{"--format %q: want mermaid, dot or json", "--format %q：可选 mermaid、dot 或 json"},
	{"--depth %v: want 0 (no limit) or more", "--depth %v：需为 0（不限）或更大"},
	{"reading go env GOPROXY: %v", "读取 go env GOPROXY 失败：%v"},
	{"%s is not in the module graph of %s", "%s 不在 %s 的模块依赖图中"},
	{"module versions: %d, requirements: %d\n", "模块版本：%d 个，依赖关系：%d 条\n"},
	{"%s is in the module graph of %s at depth %d, beyond --depth %d", "%[1]s 在 %[2]s 的模块依赖图中位于第 %[3]d 层，超出了 --depth %[4]d"},
	{"%s is the main module\n", "%s 是主模块\n"},
	{"warning: %d requirements are more than Mermaid draws by default (%d): cut the graph with --depth or --focus, or use --format dot\n", "警告：%d 条依赖关系超过了 Mermaid 默认能绘制的数量（%d）：请用 --depth 或 --focus 缩小范围，或改用 --format dot\n"},
	{"selected version of %s: %s\n", "%s 的选定版本：%s\n"},
	// gomirror warm and graph --help: Long texts (keys are the exact texts
	// of cmd/gomirror warmLong and graphLong) and flag usages.
	{`Fetch through the mirror at --mirror every module file a project needs, so
that it is stored there and the project builds from the mirror alone later
(gomirror serve --upstream off).

With a go.mod file (./go.mod if no argument is given), the go command, pointed
at the mirror, resolves the project's module graph, without changing the
project's go.mod or go.sum: every module in the requirement graph (go mod
graph) gets its .info and .mod fetched, and the modules the build downloads
get their .zip too: those whose packages go build ./... and go test ./... of
the project load (as with GOFLAGS=-mod=mod, so also a module that a go.mod
that is not tidy lacks) and those go mod download fetches. With --all, the
.zip of every module of the build list (go list -m all) is fetched as well;
the upstream's refusal (403, 404, 410) of one of those extra zips is a
warning, listed in the summary, not a failure. With module@version
arguments, the same is done for a main module requiring them (their zips
are the ones needed).

With --sumdb, the checksum database lookups of every module version of the
graph, and the tiles that prove them, are fetched through the mirror too
(<mirror>/sumdb/<name>/lookup/..., tile/...), as the go command asks for
them with an empty go.sum and module cache; the database is the one
go env GOSUMDB names (an alias of it as the go command maps it), less the
paths of GONOSUMDB. If the go command here already holds a tree of that
database ($GOPATH/pkg/sumdb/<name>/latest), the lookups are also proven
consistent with that tree, which asks for more tiles. A client with an
empty go.sum, and either no checksum database state or this machine's,
then builds the project through the mirror with its upstream off.

Each file is fetched with a plain GET of URL/<module>/@v/<version>.info|.mod|.zip,
--jobs at a time. Progress goes to standard error (a bar on a terminal, a
line now and then otherwise); the summary, with every failure and warning and
its reason, to standard output. The exit status is 1 if a file the build
needs could not be fetched or a lookup failed, 0 if only warnings.`,
		`通过 --mirror 指定的镜像拉取项目需要的每个模块文件，让镜像把它们存下来，
之后只靠该镜像（gomirror serve --upstream off）也能构建项目。

给出 go.mod 文件时（不带参数则为 ./go.mod），go 命令以该镜像为代理解析项目的
模块依赖图，不会改动项目的 go.mod 和 go.sum：依赖图（go mod graph）中的每个
模块都会拉取 .info 和 .mod；构建要下载的模块还会拉取 .zip：即项目的
go build ./... 和 go test ./... 加载的包所在的模块（按 GOFLAGS=-mod=mod 的方式，
因此 go.mod 未整理时缺少的模块也包括在内），以及 go mod download 下载的模块。
加上 --all 时，构建列表（go list -m all）中每个模块的 .zip 也会拉取；上游拒绝
（403、404、410）这些额外的 zip 只算警告，会列在汇总里，不算失败。给出
module@version 参数时，按一个依赖这些版本的主模块做同样的事（需要的 zip 就是
这些参数的 zip）。

加上 --sumdb 时，还会通过镜像拉取依赖图中每个模块版本的校验和数据库查询结果，
以及证明它们的 tile（<mirror>/sumdb/<name>/lookup/...、tile/...），与 go 命令在
go.sum 和模块缓存都为空时所请求的一致；校验和数据库为 go env GOSUMDB 所指定的
（别名按 go 命令的方式映射），GONOSUMDB 中的路径除外。如果本机的 go 命令已经
持有该数据库的一棵树（$GOPATH/pkg/sumdb/<name>/latest），还会证明查询结果与
这棵树一致，这需要更多的 tile。之后，go.sum 为空、且没有校验和数据库状态或
状态与本机相同的客户端，就能在镜像关闭上游的情况下通过镜像构建该项目。

每个文件用一次普通的 GET 请求 URL/<module>/@v/<version>.info|.mod|.zip 拉取，
并发数为 --jobs。进度输出到标准错误（终端上为进度条，否则不时输出一行）；汇总
（含每个失败、警告及其原因）输出到标准输出。构建需要的文件无法拉取或有查询失败
时退出状态为 1，只有警告时为 0。`},
	{`Print the module requirement graph of a project (the go.mod in DIR, or the
go.mod file given; ./go.mod if none) as the go command sees it: go mod graph,
run through the proxy of --proxy (default: go env GOPROXY), without changing
the project's go.mod or go.sum. Every module version a go.mod requires is a
node (path@version); the versions of the build list (go list -m all), which
minimal version selection picks, are marked (bold), the main module
highlighted (filled in Mermaid, boxed in DOT).

--format mermaid (the default) writes a Mermaid flowchart (graph TD) to paste
into Markdown; dot a Graphviz digraph (dot -Tsvg); json the nodes and edges in
a stable order, for programs. Mermaid draws at most 500 edges by default: a
larger graph gets a hint on standard error.

--depth N keeps the module versions at most N requirement steps from the main
module. --focus MODULE (a path, or path@version) keeps only the requirement
paths from the main module to it: who requires it, and through whom; its
selected version is printed on standard error. A module deeper than --depth
is reported with its depth.

The graph goes to standard output, messages to standard error.`,
		`按 go 命令的视角打印项目（DIR 中的 go.mod，或给出的 go.mod 文件；未给出则为
./go.mod）的模块依赖图：通过 --proxy 指定的代理（默认为 go env GOPROXY）运行
go mod graph，不会改动项目的 go.mod 和 go.sum。某个 go.mod 依赖的每个模块版本
都是一个节点（path@version）；构建列表（go list -m all）中、由最小版本选择选出的
版本会加粗标出，主模块突出显示（Mermaid 中填充底色，DOT 中为方框）。

--format mermaid（默认）输出 Mermaid 流程图（graph TD），可直接粘贴到 Markdown；
dot 输出 Graphviz 有向图（dot -Tsvg）；json 按稳定顺序输出节点和边，供程序读取。
Mermaid 默认最多绘制 500 条边：图更大时会在标准错误上给出提示。

--depth N 只保留距主模块不超过 N 步依赖的模块版本。--focus MODULE（路径，或
path@version）只保留从主模块到该模块的依赖路径：谁依赖了它、经由谁；它的选定
版本打印到标准错误。比 --depth 更深的模块会报告它所在的层数。

依赖图输出到标准输出，其他信息输出到标准错误。`},
	{"the mirror's URL (required), as in GOPROXY", "镜像的 URL（必填），写法同 GOPROXY"},
	{"files fetched at the same time", "同时拉取的文件数"},
	{"time limit for the whole warm (0: none)", "整个 warm 过程的时限（0：不限）"},
	{"also fetch the zip of every module of the build list (go list -m all), not only those the build needs", "同时拉取构建列表（go list -m all）中每个模块的 zip，而不只是构建需要的"},
	{"also fetch the checksum database lookups (and their proofs' tiles) of every module version, through the mirror", "同时通过镜像拉取每个模块版本的校验和数据库查询结果（及其证明所需的 tile）"},
	{"the module proxy the go command asks, in GOPROXY syntax (default: go env GOPROXY)", "go 命令所用的模块代理，写法同 GOPROXY（默认：go env GOPROXY）"},
	{"mermaid, dot or json", "mermaid、dot 或 json"},
	{"keep module versions at most this many requirement steps from the main module (0: no limit)", "只保留距主模块不超过这么多步依赖的模块版本（0：不限）"},
	{"keep only the requirement paths from the main module to this module (path or path@version)", "只保留从主模块到该模块的依赖路径（path 或 path@version）"},
}
