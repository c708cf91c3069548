package staging

// NewDirStoreWithoutXattr opens a DirStore that neither writes nor reads
// the ETag attribute.
func NewDirStoreWithoutXattr(root string) (*DirStore, error) {
	d, err := NewDirStore(root)
	if err == nil {
		d.noXattr = true
	}
	return d, err
}
