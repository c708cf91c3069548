package staging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Options configures an [S3Store]. Only Bucket is required; the zero
// value of every other field means the default documented beside it.
type S3Options struct {
	// Bucket holds the objects.
	Bucket string

	// Region of the bucket. Empty means the region of the default AWS
	// configuration, and "us-east-1" if that has none.
	Region string

	// Endpoint overrides the S3 endpoint, as in "https://s3.example.net".
	// Empty means AWS's endpoint for Region. It must be https, except for
	// a loopback address with AllowHTTP.
	Endpoint string

	// AllowHTTP permits a plain http Endpoint on a loopback address, for
	// tests against a local S3 server.
	AllowHTTP bool

	// PathStyle puts the bucket in the path (endpoint/bucket/key) rather
	// than in the host name; most S3 servers other than AWS need it.
	PathStyle bool

	// AccessKey is the access key id of static credentials; set it
	// together with SecretKey. Both empty means the SDK's default
	// credential chain (environment, shared files, web identity,
	// instance role).
	AccessKey string

	// SecretKey is the secret of static credentials, set if and only if
	// AccessKey is. It never appears in an error or in String output.
	SecretKey string

	// SSE asks for server-side encryption of every object: "" (the
	// bucket's default), "AES256" or "aws:kms".
	SSE string

	// KMSKeyID names the KMS key for SSE "aws:kms"; empty means the
	// account's default key. Setting it with any other SSE is an error.
	KMSKeyID string

	// Checksum is the algorithm of the integrity checksum sent with every
	// upload and checked by the server: "CRC32" (empty means this),
	// "CRC32C", "CRC64NVME", "SHA1" or "SHA256".
	Checksum string

	// HTTPClient sends the requests. Nil means the SDK's default client.
	HTTPClient *http.Client

	// RetryMaxAttempts bounds the attempts of one call, first included,
	// with the SDK's backoff and jitter between them. Zero means the SDK
	// default (3); 1 means no retry.
	RetryMaxAttempts int
}

// String describes the options without the secret key.
func (o S3Options) String() string {
	secret := ""
	if o.SecretKey != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("staging.S3Options{Bucket:%q Region:%q Endpoint:%q PathStyle:%t AccessKey:%q SecretKey:%s SSE:%q Checksum:%q}",
		o.Bucket, o.Region, redactURL(o.Endpoint), o.PathStyle, o.AccessKey, secret, o.SSE, o.Checksum)
}

// GoString is String, so that %#v hides the secret key too.
func (o S3Options) GoString() string { return o.String() }

// s3API is the part of the S3 client the store uses.
type s3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	s3.ListObjectsV2APIClient
}

// S3Store is a [Store] in an S3 bucket. Conditional puts use PutObject's
// If-None-Match and If-Match, so the bucket's server must honour them (AWS
// S3, MinIO and Versity Gateway do). Failed calls are retried by the SDK
// with backoff and jitter.
//
// A conditional put whose request was retried can meet its own earlier
// success and see 412. So on a failed precondition the store reads the
// object back and, if it holds exactly the bytes being written, reports
// success: a writer never loses to itself.
//
// An S3Store is safe for concurrent use.
type S3Store struct {
	api    s3API
	bucket string
	desc   string
	sse    types.ServerSideEncryption
	kmsKey string
	sum    types.ChecksumAlgorithm
}

// NewS3Store returns a store for opts.Bucket. It makes no request.
func NewS3Store(ctx context.Context, opts S3Options) (*S3Store, error) {
	if opts.Bucket == "" {
		return nil, errors.New("staging: s3: no bucket")
	}
	if (opts.AccessKey == "") != (opts.SecretKey == "") {
		return nil, errors.New("staging: s3: access key and secret key must be set together")
	}
	if err := checkEndpoint(opts.Endpoint, opts.AllowHTTP); err != nil {
		return nil, err
	}
	s := &S3Store{bucket: opts.Bucket, kmsKey: opts.KMSKeyID}
	switch opts.SSE {
	case "":
	case "AES256":
		s.sse = types.ServerSideEncryptionAes256
	case "aws:kms":
		s.sse = types.ServerSideEncryptionAwsKms
	default:
		return nil, fmt.Errorf("staging: s3: unknown SSE %q (want \"\", \"AES256\" or \"aws:kms\")", opts.SSE)
	}
	if opts.KMSKeyID != "" && opts.SSE != "aws:kms" {
		return nil, errors.New("staging: s3: KMSKeyID needs SSE \"aws:kms\"")
	}
	switch c := strings.ToUpper(opts.Checksum); c {
	case "":
		s.sum = types.ChecksumAlgorithmCrc32
	case "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256":
		s.sum = types.ChecksumAlgorithm(c)
	default:
		return nil, fmt.Errorf("staging: s3: unknown checksum %q", opts.Checksum)
	}

	var load []func(*config.LoadOptions) error
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.AccessKey != "" {
		load = append(load, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKey, opts.SecretKey, "")))
	}
	if opts.RetryMaxAttempts > 0 {
		load = append(load, config.WithRetryMaxAttempts(opts.RetryMaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("staging: s3: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s.api = s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle
		if opts.HTTPClient != nil {
			// Set here, not in the loaded configuration, which would
			// try to add a CA bundle to it and fail.
			o.HTTPClient = opts.HTTPClient
		}
	})
	s.desc = "s3://" + opts.Bucket
	if opts.Endpoint != "" {
		s.desc += " at " + redactURL(opts.Endpoint)
	}
	return s, nil
}

// redactURL hides a password in an endpoint URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func checkEndpoint(endpoint string, allowHTTP bool) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("staging: s3: endpoint %q is not an absolute URL", redactURL(endpoint))
	}
	if u.User != nil {
		return fmt.Errorf("staging: s3: endpoint %q: credentials belong in AccessKey and SecretKey", u.Redacted())
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		ip := net.ParseIP(u.Hostname())
		if allowHTTP && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("staging: s3: endpoint %q: plain http only on loopback with AllowHTTP", u.Redacted())
	}
	return fmt.Errorf("staging: s3: endpoint %q: want https", u.Redacted())
}

// String names the bucket and endpoint.
func (s *S3Store) String() string { return s.desc }

// Put implements [Store]. A body that is not an [io.ReadSeeker] is read
// into memory first, since a signed upload over plain HTTP must know its
// length; a [bytes.Reader] is sent as is.
func (s *S3Store) Put(ctx context.Context, key string, body io.Reader, size int64, cond Condition) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if err := checkCondition(cond); err != nil {
		return "", err
	}
	rs, ok := body.(io.ReadSeeker)
	if !ok {
		data, err := io.ReadAll(body)
		if err != nil {
			return "", fmt.Errorf("staging: put %q: read body: %w", key, err)
		}
		rs = bytes.NewReader(data)
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", fmt.Errorf("staging: put %q: %w", key, err)
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = rs.Seek(start, io.SeekStart)
	}
	if err != nil {
		return "", fmt.Errorf("staging: put %q: %w", key, err)
	}
	if size >= 0 && end-start != size {
		return "", fmt.Errorf("staging: put %q: body has %d bytes, size says %d", key, end-start, size)
	}
	in := &s3.PutObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		Body:              rs,
		ContentLength:     aws.Int64(end - start),
		ChecksumAlgorithm: s.sum,
		ContentType:       aws.String(contentType(key)),
	}
	if cond.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if cond.IfMatch != "" {
		in.IfMatch = aws.String(cond.IfMatch)
	}
	if s.sse != "" {
		in.ServerSideEncryption = s.sse
	}
	if s.kmsKey != "" {
		in.SSEKMSKeyId = aws.String(s.kmsKey)
	}
	out, err := s.api.PutObject(ctx, in)
	if err == nil {
		return aws.ToString(out.ETag), nil
	}
	if isPrecondition(err) || (cond.IfMatch != "" && isNotFound(err)) {
		if etag, ok := s.holds(ctx, key, rs, start, end-start); ok {
			return etag, nil
		}
		if isNotFound(err) {
			return "", fmt.Errorf("staging: put %q: %w: %w (%w)", key, ErrPrecondition, ErrNotFound, err)
		}
		return "", fmt.Errorf("staging: put %q: %w (%w)", key, ErrPrecondition, err)
	}
	return "", fmt.Errorf("staging: put %q: %w", key, err)
}

// maxSelfCheck bounds the object read back after a failed precondition;
// conditional writes are small state documents.
const maxSelfCheck = 4 << 20

// holds reports whether the object at key holds the n bytes of rs from
// start, and returns its ETag if so.
func (s *S3Store) holds(ctx context.Context, key string, rs io.ReadSeeker, start, n int64) (string, bool) {
	if n > maxSelfCheck {
		return "", false
	}
	obj, err := s.Get(ctx, key)
	if err != nil {
		return "", false
	}
	defer obj.Body.Close()
	if obj.Size != n {
		return "", false
	}
	stored, err := io.ReadAll(io.LimitReader(obj.Body, n+1))
	if err != nil {
		return "", false
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return "", false
	}
	mine, err := io.ReadAll(io.LimitReader(rs, n))
	if err != nil || !bytes.Equal(stored, mine) {
		return "", false
	}
	return obj.ETag, true
}

func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	case strings.HasSuffix(key, ".jsonl.gz"):
		return "application/gzip"
	}
	return "application/octet-stream"
}

// Get implements [Store].
func (s *S3Store) Get(ctx context.Context, key string) (*Object, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("staging: get %q: %w (%w)", key, ErrNotFound, err)
		}
		return nil, fmt.Errorf("staging: get %q: %w", key, err)
	}
	return &Object{Body: out.Body, ETag: aws.ToString(out.ETag), Size: aws.ToInt64(out.ContentLength)}, nil
}

// List implements [Store]; it follows continuation tokens to the end.
func (s *S3Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	var out []ObjectInfo
	pages := s3.NewListObjectsV2Paginator(s.api, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("staging: list %q: %w", prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, ObjectInfo{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				ETag:         aws.ToString(o.ETag),
				LastModified: aws.ToTime(o.LastModified),
			})
		}
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements [Store]. Deleting a missing key is not an error.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	_, err := s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("staging: delete %q: %w", key, err)
	}
	return nil
}

func isPrecondition(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	return httpStatus(err) == http.StatusPreconditionFailed
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey") {
		return true
	}
	return httpStatus(err) == http.StatusNotFound && !isNoSuchBucket(err)
}

func isNoSuchBucket(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket"
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
