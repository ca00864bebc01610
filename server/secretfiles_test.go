package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/miniotest"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/internal/wire"
	"github.com/gomirror/gomirror/storage"
)

// fakeRedis speaks enough RESP for a client to connect: HELLO is refused
// (so the client falls back to AUTH), AUTH's arguments are recorded, PING
// answers PONG, anything else OK.
type fakeRedis struct {
	addr string
	mu   sync.Mutex
	auth [][]string
}

func startFakeRedis(t *testing.T) *fakeRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakeRedis{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeRedis) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		args, err := readRESP(br)
		if err != nil {
			return
		}
		var reply string
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			reply = "-ERR unknown command 'HELLO'\r\n"
		case "AUTH":
			f.mu.Lock()
			f.auth = append(f.auth, args[1:])
			f.mu.Unlock()
			reply = "+OK\r\n"
		case "PING":
			reply = "+PONG\r\n"
		default:
			reply = "+OK\r\n"
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

func readRESP(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array: %q", line)
	}
	args := make([]string, n)
	for i := range args {
		hdr, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil {
			return nil, err
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

func (f *fakeRedis) authArgs() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auth
}

// TestRedisPasswordFile: the password comes from a file, not the URL, and
// reaches Redis; the log never shows it.
func TestRedisPasswordFile(t *testing.T) {
	const secret = "r3dis-pa55word"
	up := fakeproxy.New(t)
	r := startFakeRedis(t)
	file := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, up, func(c *config.Serve) {
		c.Redis = "redis://" + r.addr + "/0"
		c.RedisPasswordFile = file
	})
	// New pings Redis once at start.
	auth := r.authArgs()
	if len(auth) == 0 || auth[0][len(auth[0])-1] != secret {
		t.Fatalf("Redis got AUTH %q; want the password from the file", auth)
	}
	if strings.Contains(s.Logs.String(), secret) {
		t.Error("the log shows the Redis password")
	}
}

// TestS3KeyFiles: the S3 keys come from files. A fake S3 endpoint checks
// the access key in the request's signature; the secret key signs it.
func TestS3KeyFiles(t *testing.T) {
	const access, secret = "AKFROMFILE", "s3-secret-from-file"
	auth := &testutil.HeaderLog{Name: "Authorization"}
	fake := httptest.NewServer(auth.Handler(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK) // HEAD bucket: it exists
	}))
	defer fake.Close()
	dir := t.TempDir()
	akFile, skFile := filepath.Join(dir, "ak"), filepath.Join(dir, "sk")
	os.WriteFile(akFile, []byte(access+"\n"), 0o600)
	os.WriteFile(skFile, []byte(secret+"\n"), 0o600)
	cfg := config.Defaults()
	cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
	cfg.Storage, cfg.S3Endpoint, cfg.S3Bucket, cfg.S3Region = "s3", strings.TrimPrefix(fake.URL, "http://"), "bucket", "us-east-1"
	cfg.S3PathStyle, cfg.S3Insecure = true, true
	cfg.S3AccessKeyFile, cfg.S3SecretKeyFile = akFile, skFile
	if _, err := wire.OpenStorage(context.Background(), &cfg); err != nil {
		t.Fatal(err)
	}
	seen := auth.Values()
	if len(seen) == 0 || !strings.Contains(seen[0], "Credential="+access+"/") {
		t.Errorf("S3 requests were signed with %q; want the access key from the file", seen)
	}
	for _, h := range seen {
		if strings.Contains(h, secret) {
			t.Error("the secret key travelled in a header")
		}
	}
	// A missing file is a config error that names the file, read once at start.
	cfg.S3SecretKeyFile = filepath.Join(dir, "missing")
	_, err := wire.OpenStorage(context.Background(), &cfg)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "s3-secret-key-file" {
		t.Errorf("wire.OpenStorage with a missing key file: %v", err)
	}
}

// TestS3KeyFilesWithMinIO stores and reads an object in a real MinIO with
// both keys read from files (skipped without the minio binary).
func TestS3KeyFilesWithMinIO(t *testing.T) {
	m := miniotest.Start(t)
	dir := t.TempDir()
	akFile, skFile := filepath.Join(dir, "ak"), filepath.Join(dir, "sk")
	os.WriteFile(akFile, []byte(m.AccessKey+"\n"), 0o600)
	os.WriteFile(skFile, []byte(m.SecretKey+"\n"), 0o600)
	cfg := config.Defaults()
	cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
	cfg.Storage, cfg.S3Endpoint, cfg.S3Bucket = "s3", m.Endpoint, m.Bucket(t)
	cfg.S3PathStyle, cfg.S3Insecure = true, true
	cfg.S3AccessKeyFile, cfg.S3SecretKeyFile = akFile, skFile
	store, err := wire.OpenStorage(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := storage.PutBytes(ctx, store, "example.com/x/@v/list", []byte("v1.0.0\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := storage.ReadAll(ctx, store, "example.com/x/@v/list"); err != nil || string(b) != "v1.0.0\n" {
		t.Errorf("read back %q, %v", b, err)
	}
}
