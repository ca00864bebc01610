// Package s3 stores gomirror's artifacts in an S3-compatible object store
// (AWS S3, MinIO, Ceph, Aliyun OSS, Tencent COS, ...) through minio-go.
//
// Keys map to object names under an optional prefix, so a bucket prefix is a
// GOPROXY URL tree like the local-disk layout. Every write is a single
// object PUT or a multipart upload, which S3 makes visible only once it is
// complete: a reader sees the previous object or the whole new one, never a
// part. Objects are served by streaming (small ones from memory, so that
// their body seeks), or, for callers that want it, through presigned URLs
// (see PresignGet).
//
// The driver registers itself as "s3" (see storage.Register); its settings
// are the s3-* ones. A Store's methods expect valid keys: use it through
// storage.Open or storage.Wrap, which check them.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

func init() { storage.Register("s3", open) }

// open is the factory of storage "s3": the bucket the s3-* settings name,
// with the access and secret keys read from their -file settings where
// those are given. It waits at most 30s for the bucket to answer. Errors
// are *config.Error.
func open(ctx context.Context, settings storage.Settings) (storage.Storage, error) {
	get := func(name string) string { v, _ := settings.Setting(name); return v }
	flag := func(name string) bool { v, _ := strconv.ParseBool(get(name)); return v }
	cfg := Config{
		Endpoint:  get("s3-endpoint"),
		Region:    get("s3-region"),
		Bucket:    get("s3-bucket"),
		Prefix:    get("s3-prefix"),
		PathStyle: flag("s3-path-style"),
		Insecure:  flag("s3-insecure"),
		AccessKey: get("s3-access-key"),
		SecretKey: get("s3-secret-key"),
	}
	for _, f := range []struct {
		setting string
		v       *string
	}{{"s3-access-key-file", &cfg.AccessKey}, {"s3-secret-key-file", &cfg.SecretKey}} {
		file := get(f.setting)
		if file == "" {
			continue
		}
		v, err := config.ReadSecretFile(file)
		if err != nil {
			return nil, &config.Error{Key: f.setting, Source: file, Err: err}
		}
		*f.v = v
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := New(ctx, cfg)
	if err != nil {
		return nil, &config.Error{Key: "s3-endpoint", Source: cfg.Endpoint, Err: err}
	}
	// What a crash left behind (the parts of an unfinished upload, which
	// the bucket keeps and bills for) is aborted by SweepLeftovers, which
	// serve calls in the background at start and at each collection: not
	// here, which every command opening the store would wait for.
	return s, nil
}

var _ storage.LeftoverSweeper = (*Store)(nil)

// SweepLeftovers aborts the unfinished multipart uploads of gomirror's
// keys begun more than an hour ago (AbortStaleUploads).
func (s *Store) SweepLeftovers(ctx context.Context) (int, error) {
	return s.AbortStaleUploads(ctx, staleUpload)
}

// ours reports whether name (a key without the store's prefix) is one
// gomirror writes: a module file, or under sumdb/ or .gomirror/. Without a
// prefix the bucket may hold another application's keys.
func ours(name string) bool {
	if first, _, _ := strings.Cut(name, "/"); first == layout.SumDBDir || first == layout.StateDir {
		return true
	}
	_, _, err := layout.Parse(name)
	return err == nil
}

// staleUpload is how old an unfinished multipart upload must be for open
// to abort it: a younger one may be another replica's, under way.
const staleUpload = time.Hour

// AbortStaleUploads aborts the unfinished multipart uploads of gomirror's
// keys (a module file, sumdb/..., .gomirror/...) under the store's
// prefix that were started more than olderThan ago (a process
// that crashed while uploading leaves them, and S3 keeps their parts until
// aborted), and returns how many it aborted.
func (s *Store) AbortStaleUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	n := 0
	// The whole bucket's, filtered here: MinIO lists the uploads of one
	// object name, or all of them, but none for a shorter prefix.
	for u := range s.c.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if u.Err != nil {
			return n, fmt.Errorf("s3: listing unfinished uploads: %w", u.Err)
		}
		name, ok := strings.CutPrefix(u.Key, s.prefix)
		if !ok || !ours(name) || u.Initiated.After(cutoff) {
			continue
		}
		if err := (minio.Core{Client: s.c}).AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil {
			return n, fmt.Errorf("s3: aborting the unfinished upload of %s: %w", u.Key, err)
		}
		n++
	}
	return n, nil
}

// Config locates a bucket and says how to reach it.
type Config struct {
	// Endpoint is host[:port] of the S3 API, without a scheme.
	Endpoint string
	// Region is the bucket's region; empty lets the client discover it.
	Region string
	Bucket string
	// Prefix is prepended to every key ("mirror/" stores under mirror/...).
	Prefix string
	// PathStyle forces path-style requests (endpoint/bucket/key), which
	// MinIO and many S3-compatible stores need; otherwise the client
	// chooses (virtual-host style for AWS).
	PathStyle bool
	// Insecure talks plain HTTP instead of HTTPS.
	Insecure bool
	// AccessKey and SecretKey are static credentials. If empty, the
	// credentials come from the environment (AWS_ACCESS_KEY_ID ...,
	// MINIO_ROOT_USER ...), the AWS files, or the instance role, in that
	// order.
	AccessKey, SecretKey, SessionToken string
	// Transport, if set, is used for the API requests.
	Transport http.RoundTripper
}

// Store is a storage.Storage in a bucket.
type Store struct {
	c      *minio.Client
	bucket string
	prefix string
}

var (
	_ storage.Storage     = (*Store)(nil)
	_ storage.FileAdopter = (*Store)(nil)
	_ storage.Presigner   = (*Store)(nil)
	_ storage.Walker      = (*Store)(nil)
	_ storage.AfterLister = (*Store)(nil)
	_ storage.Creator     = (*Store)(nil)
	_ storage.TopLeveler  = (*Store)(nil)
)

// New connects to the bucket of cfg and checks that it exists.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("s3: endpoint and bucket are required")
	}
	if strings.Contains(cfg.Endpoint, "://") {
		return nil, fmt.Errorf("s3: endpoint %q: give host[:port] without a scheme (use insecure for plain HTTP)", cfg.Endpoint)
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{},
		})
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       !cfg.Insecure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: checking bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3: bucket %s does not exist at %s", cfg.Bucket, cfg.Endpoint)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Store{c: c, bucket: cfg.Bucket, prefix: prefix}, nil
}

// String names the bucket for logs.
func (s *Store) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// name is the object name of key, which storage.Wrap has checked.
func (s *Store) name(key string) string { return s.prefix + key }

// mapErr maps S3's "no such key" to fs.ErrNotExist.
func (s *Store) mapErr(key string, err error) error {
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return storage.NotFound(key)
	}
	return fmt.Errorf("s3 %s: %w", key, err)
}

func (s *Store) Get(ctx context.Context, key string) (*storage.Object, error) {
	name := s.name(key)
	// One GET, answered with the object's size and date. (minio-go's lazy
	// Object would first ask for the object's information and then read it
	// with If-Match: an object replaced in between, such as a tree head
	// or a list another replica rewrites, would fail with 412.)
	body, info, _, err := minio.Core{Client: s.c}.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.mapErr(key, err)
	}
	obj := &storage.Object{Info: storage.Info{Size: info.Size, ModTime: info.LastModified}, Body: body}
	if info.Size <= smallObject {
		// Small objects are read now, so that their body can seek (ranges
		// and conditional requests in http.ServeContent).
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			return nil, s.mapErr(key, err)
		}
		obj.Body = readSeekCloser{bytes.NewReader(b)}
	}
	return obj, nil
}

// smallObject is the size up to which Get reads an object into memory:
// every reader gets a copy, so it is kept small (a stalled reader of a
// bigger object holds its stream, not its bytes).
const smallObject = 64 << 10

type readSeekCloser struct{ *bytes.Reader }

func (readSeekCloser) Close() error { return nil }

func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	name := s.name(key)
	info, err := s.c.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return storage.Info{}, s.mapErr(key, err)
	}
	return storage.Info{Size: info.Size, ModTime: info.LastModified}, nil
}

// Put uploads r as key: one PUT when the size is known and small, else a
// multipart upload, completed only after r has been read without error.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	name := s.name(key)
	size := int64(-1)
	switch v := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		size = int64(v.Len())
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	// A reader that fails must fail the upload, whatever minio-go does
	// with short reads: remember its error.
	er := &errReader{r: r}
	_, err := s.c.PutObject(ctx, s.bucket, name, er, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    16 << 20,
	})
	if er.err != nil {
		return fmt.Errorf("s3 %s: %w", key, er.err)
	}
	return s.mapErr(key, err)
}

// maxCreate bounds what CreateIfAbsent stores: one conditional PUT (no
// multipart upload, whose completion would need the condition too).
const maxCreate = 64 << 20

// CreateIfAbsent stores r at key unless key exists: a conditional PUT
// (If-None-Match: *), which S3 and MinIO refuse with 412 Precondition
// Failed if the object exists, or 409 Conflict while another conditional
// write of it is under way; both are an error wrapping fs.ErrExist. At
// most maxCreate bytes. A store that ignores the header (an old S3
// compatible server) replaces silently: that is the caller's fallback's
// race again, no worse.
func (s *Store) CreateIfAbsent(ctx context.Context, key string, r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(storage.ContextReader(ctx, r), maxCreate+1))
	if err != nil {
		return fmt.Errorf("s3 %s: %w", key, err)
	}
	if len(b) > maxCreate {
		return fmt.Errorf("s3 %s: larger than %d bytes", key, maxCreate)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: maxCreate + 1<<20}
	opts.SetMatchETagExcept("*")
	_, err = s.c.PutObject(ctx, s.bucket, s.name(key), bytes.NewReader(b), int64(len(b)), opts)
	if err != nil {
		switch resp := minio.ToErrorResponse(err); {
		case resp.StatusCode == http.StatusPreconditionFailed, resp.StatusCode == http.StatusConflict,
			resp.Code == "PreconditionFailed", resp.Code == "ConditionalRequestConflict":
			return &fs.PathError{Op: "create", Path: key, Err: fs.ErrExist}
		}
	}
	return s.mapErr(key, err)
}

// AdoptFile uploads the file at name as key and removes it.
func (s *Store) AdoptFile(ctx context.Context, key, name string) error {
	obj := s.name(key)
	if _, err := s.c.FPutObject(ctx, s.bucket, obj, name, minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: 16 << 20}); err != nil {
		return s.mapErr(key, err)
	}
	return os.Remove(name)
}

func (s *Store) Delete(ctx context.Context, key string) error {
	name := s.name(key)
	err := s.mapErr(key, s.c.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// List returns the keys under prefix in lexical order, as S3 lists them.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("s3 list %s: %w", prefix, obj.Err)
		}
		keys = append(keys, strings.TrimPrefix(obj.Key, s.prefix))
	}
	return keys, nil
}

// ListAfter returns the keys under prefix after after, in lexical order:
// S3 starts the listing there (StartAfter), so the keys before it cost
// nothing.
func (s *Store) ListAfter(ctx context.Context, prefix, after string) ([]string, error) {
	opts := minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}
	if after != "" {
		opts.StartAfter = s.prefix + after
	}
	var keys []string
	for obj := range s.c.ListObjects(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("s3 list %s after %s: %w", prefix, after, obj.Err)
		}
		keys = append(keys, strings.TrimPrefix(obj.Key, s.prefix))
	}
	return keys, nil
}

// TopLevel returns the first elements of the keys (storage.TopLeveler):
// one listing with the delimiter "/", whose common prefixes are the
// directories (1000 to a page).
func (s *Store) TopLevel(ctx context.Context) ([]string, error) {
	var out []string
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: false}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("s3 list: %w", obj.Err)
		}
		out = append(out, strings.TrimPrefix(obj.Key, s.prefix))
	}
	return out, nil
}

// Walk calls fn for every key under prefix with the size and
// modification time of the listing, page by page (1000 objects each).
func (s *Store) Walk(ctx context.Context, prefix string, fn func(key string, info storage.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing's goroutine when fn fails
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("s3 list %s: %w", prefix, obj.Err)
		}
		if err := fn(strings.TrimPrefix(obj.Key, s.prefix), storage.Info{Size: obj.Size, ModTime: obj.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// PresignGet returns a URL from which key can be downloaded directly for
// ttl, for serving zips by redirect instead of through gomirror.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (*url.URL, error) {
	name := s.name(key)
	return s.c.PresignedGetObject(ctx, s.bucket, name, ttl, nil)
}

// errReader remembers the first error of r other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
