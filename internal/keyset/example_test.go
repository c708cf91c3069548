package keyset_test

import (
	"fmt"

	"github.com/techwolf/sfconnector/internal/keyset"
)

func Example() {
	seen := keyset.New(&keyset.Options{MemKeys: 2}) // tiny, to spill at once
	defer seen.Close()
	for _, k := range []string{"u1", "u2", "u3", "u1", "u4", "u2"} {
		if !seen.Add([]byte(k)) {
			fmt.Println("repeat:", k)
		}
	}
	fmt.Println("keys:", seen.Len())
	// Output:
	// repeat: u1
	// repeat: u2
	// keys: 4
}
