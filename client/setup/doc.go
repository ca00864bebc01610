// Package setup points the go command at a module mirror and takes it back
// off again; it is the logic behind `gomirror setup`.
//
// Apply changes the go command's settings only through the go command itself
// (`go env -w`), so they land in the file that GOENV names, exactly where
// the go command would put them. Before the first change it saves, next to
// that file, in [StateFileName], what each variable it is about to change
// was: whether the GOENV file set it, and to what. [Undo] puts back exactly
// that: `go env -w` for the variables the file set, `go env -u` for those it
// did not, and then removes the state file. A second Apply before Undo keeps
// the original saved values, so one Undo always returns to the settings from
// before the first Apply.
//
// Which variables the GOENV file sets is read from the file itself, with the
// go command's own rules (KEY=VALUE lines, the last line for a key wins),
// rather than from `go env -changed` or a comparison with `GOENV=off`: both
// of those mix in the OS environment and the defaults, so they cannot tell
// "not in the file" from "in the file, set to the default value", and Undo
// would then not give back the same file.
//
// [Check] asks a URL for the probe module's version list before anything is
// changed, so that a typo or a web server that is not a module proxy is
// refused rather than breaking every later go command. [Exports] prints the
// same settings as shell commands for CI instead of changing the GOENV file.
//
// Profiles are named sets of settings, kept in [ProfilesFileName] next to
// the state file ([ReadProfiles], [WriteProfiles]: atomic, 0600). [Switch]
// applies one as Apply does and puts back, for every variable an earlier
// Apply changed that the profile does not set, its value from before the
// first Apply; so Undo still returns to the settings from before the first
// change, whichever profiles were switched to in between.
//
// Errors are [i18n.Error]s: their Error() is English, and a command prints
// them in the user's language.
package setup
