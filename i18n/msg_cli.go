package i18n

// cliMessages are the texts of the commands' common texts (cmd/gomirror).
var cliMessages = []entry{
	{"unsupported language %q (want en or zh)", "不支持的语言 %q（可选 en 或 zh）"},
}
