package registry

import "reflect"

// Clone returns a deep copy of r: no map, slice or pointer of the copy is shared with r, and
// pointers that r shares between its parts (a Collector's Module, the modules of Disabled) are
// shared the same way in the copy. The front door keeps a clone, so that what a caller does to
// the registry it passed in (or to one it got back) cannot change what the host runs.
func (r *Registry) Clone() *Registry {
	if r == nil {
		return nil
	}
	c := cloner{seen: map[uintptr]reflect.Value{}}
	return c.value(reflect.ValueOf(r)).Interface().(*Registry)
}

// cloner copies values deeply, once per pointer, by reflection: a field added to the registry
// is copied without anyone remembering to.
type cloner struct {
	seen map[uintptr]reflect.Value // pointers already copied, to their copies
}

func (c cloner) value(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		if p, ok := c.seen[v.Pointer()]; ok {
			return p
		}
		p := reflect.New(v.Type().Elem())
		c.seen[v.Pointer()] = p
		p.Elem().Set(c.value(v.Elem()))
		return p
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v) // unexported fields (time.Time's) come along as values
		for i := range v.NumField() {
			if out.Field(i).CanSet() {
				out.Field(i).Set(c.value(v.Field(i)))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(c.value(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), c.value(it.Value()))
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(c.value(v.Elem()))
		return out
	}
	return v // strings, numbers, bools: values already
}

// Clone returns a deep copy of c, its Module included.
func (c *Collector) Clone() *Collector {
	if c == nil {
		return nil
	}
	cl := cloner{seen: map[uintptr]reflect.Value{}}
	return cl.value(reflect.ValueOf(c)).Interface().(*Collector)
}
