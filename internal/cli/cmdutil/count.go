package cmdutil

import "strconv"

// Count says n things in English: "1 problem", "0 problems", "3 problems".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
