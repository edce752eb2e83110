//go:build !wasip1

package collector

import "unsafe"

// Stand-ins for the ABI v1 host functions when the package is built for anything but wasip1 (go vet,
// host unit tests, a collector's own tests). There is no host to talk to: every function reports
// statusNoHost, which the wrappers turn into ErrNoHost, and collection_type reports no known type.

func hostEmitJSON(unsafe.Pointer, uint32) uint32  { return statusNoHost }
func hostCSVHeader(unsafe.Pointer, uint32) uint32 { return statusNoHost }
func hostCSVRows(unsafe.Pointer, uint32) uint32   { return statusNoHost }
func hostSliceBounds(unsafe.Pointer) uint32       { return statusNoHost }
func hostCollectionType() int32                   { return 0 }

func hostParam(unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer) uint32 {
	return statusNoHost
}

func hostParamsJSON(unsafe.Pointer, uint32, unsafe.Pointer) uint32 { return statusNoHost }
func hostLog(int32, unsafe.Pointer, uint32) uint32                 { return statusNoHost }
func hostFail(unsafe.Pointer, uint32) uint32                       { return statusNoHost }

func hostDBQuery(unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer) uint32 {
	return statusNoHost
}
func hostDBResult(unsafe.Pointer, uint32, unsafe.Pointer) uint32 { return statusNoHost }
func hostDBStreamCSV(unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer) uint32 {
	return statusNoHost
}
func hostLastError(unsafe.Pointer, uint32, unsafe.Pointer) uint32 { return statusNoHost }

func hostDBQueryRows(unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer) uint32 {
	return statusNoHost
}
func hostDBRowsNext(unsafe.Pointer, uint32, unsafe.Pointer) uint32 { return statusNoHost }
func hostDBStreamCSVTransform(unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer) uint32 {
	return statusNoHost
}
