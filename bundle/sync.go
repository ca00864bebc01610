package bundle

import "os"

// syncDir makes the content of every file written under dir durable: one
// syncfs(2) of dir's file system (fsync per file where there is no syncfs).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return syncfs(f, dir)
}
