package shipping

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUploadErrorMessage(t *testing.T) {
	const name = "analytics-2024-06-30-000000+0000-0.tar.gz"
	reset := &url.Error{Op: "Post", URL: "https://ingress.example/api", Err: syscall.ECONNRESET}
	tests := []struct {
		name string
		err  *UploadError
		want string
	}{
		{
			name: "rejected with a body",
			err:  &UploadError{Tarball: name, Attempts: 1, StatusCode: 400, Body: "{\"error\":\n  \"bad manifest\"}"},
			want: `upload ` + name + `: ingress answered 400 Bad Request after 1 attempt: {"error": "bad manifest"}`,
		},
		{
			name: "unknown status",
			err:  &UploadError{Tarball: name, Attempts: 5, StatusCode: 599, Retryable: true},
			want: `upload ` + name + `: ingress answered 599 after 5 attempts`,
		},
		{
			name: "redirect not followed",
			err:  &UploadError{Tarball: name, Attempts: 1, StatusCode: 302, Location: "https://login.example/", Body: "<html>"},
			want: `upload ` + name + `: ingress answered 302 Found after 1 attempt: redirect to https://login.example/ not followed`,
		},
		{
			name: "transport error",
			err:  &UploadError{Tarball: name, Attempts: 5, Retryable: true, Err: reset},
			want: `upload ` + name + `: post https://ingress.example/api: connection reset by peer (5 attempts)`,
		},
		{
			name: "cancelled after an answer",
			err:  &UploadError{Tarball: name, Attempts: 2, StatusCode: 503, Err: context.Canceled},
			want: `upload ` + name + `: context canceled (2 attempts; last answer 503 Service Unavailable)`,
		},
		{
			name: "nothing sent",
			err:  &UploadError{Tarball: name, Err: errors.New("tarball /x: open: no such file or directory")},
			want: `upload ` + name + `: tarball /x: open: no such file or directory`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.EqualError(t, tt.err, tt.want)
		})
	}
}

func TestUploadErrorUnwrap(t *testing.T) {
	var err error = &UploadError{Tarball: "x", Attempts: 3, Err: &url.Error{Op: "Post", URL: "u", Err: syscall.ECONNREFUSED}}
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	require.NotErrorIs(t, err, fs.ErrNotExist)
	require.Nil(t, (&UploadError{StatusCode: 500}).Unwrap())
}
