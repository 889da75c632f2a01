package zipcorpus_test

import (
	"fmt"

	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
)

// SHA256 writes digests the way MANIFEST.tsv does, so a body can be compared
// with a row's SHA256 directly.
func ExampleSHA256() {
	fmt.Println(zipcorpus.SHA256(nil))
	// Output: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
}
