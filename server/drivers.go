package server

// The storage drivers a server can open, by the name of setting storage:
// each registers itself (storage.Register). A new driver is a package and
// a line here.
import (
	_ "github.com/gomirror/gomirror/storage/fs"
	_ "github.com/gomirror/gomirror/storage/s3"
)
