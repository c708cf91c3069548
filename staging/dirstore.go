package staging

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DirStore is a [Store] in a local directory, with the semantics of S3:
//
//   - An object is the file root/key; a Put writes a temporary file beside
//     it and renames it into place, so a reader sees the old or the new
//     object, never a mix.
//   - The ETag is the quoted hex MD5 of the content, as S3 gives for a
//     single-part upload. It is kept in an extended attribute when the file
//     system has them, and otherwise computed by reading the file.
//   - Puts and deletes hold an exclusive flock(2) on a lock file under
//     root/.sfc-locks while they check their condition and rename, so
//     conditional writes are correct across goroutines and processes
//     sharing the directory. Keys share 256 lock files by hash, which
//     bounds the files kept; the lock is held only for a stat and a
//     rename, so the sharing costs next to nothing.
//   - Keys are checked with [CheckKey]; in addition no segment may start
//     with ".sfc-" (reserved for the store's own files) or exceed 255
//     bytes. All file access goes through an [os.Root], so nothing outside
//     root is touched even through a symbolic link.
//
// Unlike S3 a directory cannot hold both "a/b" and "a/b/c": the second Put
// fails. Directories left empty by Delete stay. List is not a snapshot:
// objects written during a List may or may not appear.
//
// A DirStore is safe for concurrent use. Close it when done.
type DirStore struct {
	dir     string
	root    *os.Root
	noXattr bool // recompute every ETag, as on a file system without xattrs
}

const (
	reservedPrefix = ".sfc-"
	lockDir        = ".sfc-locks"
	etagAttr       = "user.sfconnector.etag"
)

// NewDirStore opens the store at root, creating the directory if needed.
func NewDirStore(root string) (*DirStore, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("staging: dir store: %w", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("staging: dir store: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("staging: dir store: %w", err)
	}
	if err := r.MkdirAll(lockDir, 0o755); err != nil {
		r.Close()
		return nil, fmt.Errorf("staging: dir store: %w", err)
	}
	return &DirStore{dir: abs, root: r}, nil
}

// Close releases the directory handle.
func (d *DirStore) Close() error { return d.root.Close() }

// String names the store by its directory.
func (d *DirStore) String() string { return "dir:" + d.dir }

func checkDirKey(key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, reservedPrefix) {
			return &KeyError{Key: key, Reason: "segment starts with reserved " + reservedPrefix}
		}
		if len(seg) > 255 {
			return &KeyError{Key: key, Reason: "segment longer than 255 bytes"}
		}
	}
	return nil
}

// Put implements [Store].
func (d *DirStore) Put(ctx context.Context, key string, body io.Reader, size int64, cond Condition) (string, error) {
	if err := checkDirKey(key); err != nil {
		return "", err
	}
	if err := checkCondition(cond); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	tmp, etag, err := d.writeTemp(key, body, size)
	if err != nil {
		return "", err
	}
	defer d.root.Remove(tmp) // a no-op once renamed

	unlock, err := d.lock(ctx, key)
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := d.checkCondition(key, cond); err != nil {
		return "", err
	}
	if err := d.root.Rename(tmp, key); err != nil {
		return "", fmt.Errorf("staging: put %q: %w", key, err)
	}
	return etag, nil
}

// writeTemp copies body into a new temporary file beside key and returns
// its name and ETag.
func (d *DirStore) writeTemp(key string, body io.Reader, size int64) (string, string, error) {
	if dir := path.Dir(key); dir != "." {
		if err := d.root.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("staging: put %q: %w", key, err)
		}
	}
	tmp := path.Join(path.Dir(key), reservedPrefix+"tmp-"+rand.Text())
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", "", fmt.Errorf("staging: put %q: %w", key, err)
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), body)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("body has %d bytes, size says %d", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	etag := `"` + hex.EncodeToString(h.Sum(nil)) + `"`
	if err == nil && !d.noXattr {
		// Without extended attributes the ETag is recomputed on read.
		_ = setXattr(filepath.Join(d.dir, filepath.FromSlash(tmp)), etagAttr, etag)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.root.Remove(tmp)
		return "", "", fmt.Errorf("staging: put %q: %w", key, err)
	}
	return tmp, etag, nil
}

// checkCondition runs under the key's exclusive lock.
func (d *DirStore) checkCondition(key string, cond Condition) error {
	if !cond.IfAbsent && cond.IfMatch == "" {
		return nil
	}
	f, err := d.root.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		if cond.IfMatch != "" {
			return fmt.Errorf("%w: %q does not exist (%w)", ErrPrecondition, key, ErrNotFound)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("staging: put %q: %w", key, err)
	}
	defer f.Close()
	if cond.IfAbsent {
		return fmt.Errorf("%w: %q exists", ErrPrecondition, key)
	}
	etag, _, err := d.etagOf(f, key)
	if err != nil {
		return err
	}
	if etag != cond.IfMatch {
		return fmt.Errorf("%w: %q has changed", ErrPrecondition, key)
	}
	return nil
}

// etagOf returns the ETag and size of the open object f.
func (d *DirStore) etagOf(f *os.File, key string) (string, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("staging: stat %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("staging: %q: %w", key, ErrNotFound)
	}
	if !d.noXattr {
		if etag, err := getXattr(f, etagAttr); err == nil && len(etag) == 34 {
			return etag, fi, nil
		}
	}
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", nil, fmt.Errorf("staging: read %q: %w", key, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", nil, fmt.Errorf("staging: read %q: %w", key, err)
	}
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`, fi, nil
}

// Get implements [Store]. The ETag and body belong to the same version:
// the open file keeps its content even if a Put replaces it meanwhile.
func (d *DirStore) Get(ctx context.Context, key string) (*Object, error) {
	if err := checkDirKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := d.root.Open(key)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return nil, fmt.Errorf("staging: get %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("staging: get %q: %w", key, err)
	}
	etag, fi, err := d.etagOf(f, key)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Object{Body: f, ETag: etag, Size: fi.Size()}, nil
}

// List implements [Store].
func (d *DirStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	// Walk only the deepest directory that the prefix names in full.
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i > 0 {
		start = prefix[:i]
	}
	var out []ObjectInfo
	err := fs.WalkDir(d.root.FS(), start, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // the directory went away, or never was
			}
			return err
		}
		if strings.HasPrefix(de.Name(), reservedPrefix) {
			if de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if de.IsDir() {
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return ctx.Err()
		}
		if !de.Type().IsRegular() || !strings.HasPrefix(p, prefix) {
			return nil
		}
		info, err := d.stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		out = append(out, info)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("staging: list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (d *DirStore) stat(key string) (ObjectInfo, error) {
	f, err := d.root.Open(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer f.Close()
	etag, fi, err := d.etagOf(f, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{Key: key, Size: fi.Size(), ETag: etag, LastModified: fi.ModTime().UTC()}, nil
}

// Delete implements [Store]. Deleting a missing key is not an error.
func (d *DirStore) Delete(ctx context.Context, key string) error {
	if err := checkDirKey(key); err != nil {
		return err
	}
	unlock, err := d.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	fi, err := d.root.Lstat(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && fi.IsDir() {
		return nil // no object by this name, only deeper ones
	}
	if err == nil {
		err = d.root.Remove(key)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("staging: delete %q: %w", key, err)
	}
	return nil
}

// lock takes the lock file of key's stripe, polling until it is free or ctx ends.
func (d *DirStore) lock(ctx context.Context, key string) (unlock func(), err error) {
	sum := sha256.Sum256([]byte(key))
	name := path.Join(lockDir, hex.EncodeToString(sum[:1])+".lock")
	f, err := d.root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("staging: lock %q: %w", key, err)
	}
	wait := 100 * time.Microsecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("staging: lock %q: %w", key, err)
		}
		if ok {
			return func() { unlockFile(f); f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("staging: lock %q: %w", key, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}
