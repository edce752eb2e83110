package collector

import "time"

// appendRFC3339Nano appends the time sec, nsec (Unix, UTC) as time.RFC3339Nano does
// ("2025-03-01T12:00:00.25Z"). It writes the digits itself: time.AppendFormat interprets its
// layout on every call, which in a wasm guest costs several times the rest of a row, and rows
// often hold several timestamps. Years outside 0000–9999 take the standard library's path.
func appendRFC3339Nano(b []byte, sec int64, nsec int) []byte {
	return appendRFC3339NanoCached(b, sec, nsec, nil)
}

// dateCache keeps the last date appendRFC3339NanoCached wrote: the timestamps of neighbouring
// rows mostly fall on one day, and the civil date is most of the work.
type dateCache struct {
	days int64
	date [10]byte // "2006-01-02"
	ok   bool
}

// appendRFC3339NanoCached is appendRFC3339Nano with a date cache c (nil for none).
func appendRFC3339NanoCached(b []byte, sec int64, nsec int, c *dateCache) []byte {
	days := sec / 86400
	if sec%86400 < 0 {
		days--
	}
	sod := sec - days*86400
	if nsec < 0 || nsec > 999999999 {
		return time.Unix(sec, int64(nsec)).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	if c != nil && c.ok && c.days == days {
		b = append(b, c.date[:]...)
		return appendClock(b, sod, nsec)
	}
	// Days since 1970-01-01 to a civil date (H. Hinnant's days_from_civil, inverted).
	z := days + 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	year := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	if month <= 2 {
		year++
	}
	if year < 0 || year > 9999 {
		return time.Unix(sec, int64(nsec)).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	date := [10]byte{byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + month/10), byte('0' + month%10), '-', byte('0' + day/10), byte('0' + day%10)}
	if c != nil {
		c.days, c.date, c.ok = days, date, true
	}
	b = append(b, date[:]...)
	return appendClock(b, sod, nsec)
}

// appendClock appends "T15:04:05", the fraction without trailing zeros, and "Z".
func appendClock(b []byte, sod int64, nsec int) []byte {
	b = append(b, 'T', byte('0'+sod/36000), byte('0'+sod/3600%10), ':', byte('0'+sod/600%6), byte('0'+sod/60%10), ':',
		byte('0'+sod%60/10), byte('0'+sod%10))
	if nsec != 0 {
		var f [10]byte
		f[0] = '.'
		n := 9
		for i := 9; i >= 1; i-- {
			f[i] = byte('0' + nsec%10)
			nsec /= 10
		}
		for f[n] == '0' {
			n--
		}
		b = append(b, f[:n+1]...)
	}
	return append(b, 'Z')
}
