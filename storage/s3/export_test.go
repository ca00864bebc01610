package s3

import "github.com/minio/minio-go/v7"

// Core and Bucket give tests the client beneath the store.
func (s *Store) Core() minio.Core { return minio.Core{Client: s.c} }
func (s *Store) Bucket() string   { return s.bucket }
