package shipping_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/shipping"
)

// An ingress that rejects the tarball: the failure is an answer, not retried.
func Example() {
	ingress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := r.FormFile("file"); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Error(w, `{"error": "bad manifest"}`, http.StatusBadRequest)
	}))
	defer ingress.Close()

	dir, _ := os.MkdirTemp("", "shipping-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "analytics-2024-06-30-000000+0000-0.tar.gz")
	_ = os.WriteFile(path, []byte("not really a tarball"), 0o644)

	// The password comes resolved: the front door reads it from the variable or file [shipping] names.
	up, err := shipping.New(shipping.Config{
		URL:      ingress.URL + "/api/ingress/v1/upload",
		Username: "collector",
		Password: "s3cret",
	}, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = up.Ship(context.Background(), &packaging.Tarball{Path: path, Name: filepath.Base(path)})
	var ue *shipping.UploadError
	if errors.As(err, &ue) {
		fmt.Println(ue.StatusCode, ue.Retryable, ue.Attempts)
		fmt.Println(err)
	}
	// Output:
	// 400 false 1
	// upload analytics-2024-06-30-000000+0000-0.tar.gz: ingress answered 400 Bad Request after 1 attempt: {"error": "bad manifest"}
}
