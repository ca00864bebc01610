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
}
