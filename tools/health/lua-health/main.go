// lua-health runs Argo CD health scripts the way Argo CD v3.5.1 does (util/lua/lua.go, runLua and
// ExecuteHealthLua): gopher-lua at Argo CD's version, no standard libraries but package, base and table,
// the object as the global `obj`, a one-second budget, the returned table as {status, message}, and a
// status outside Argo CD's codes reported as Unknown.
//
// stdin: {"script": "<lua>", "objects": [<object>, ...]}; stdout: one {"status", "message"} or {"error"}
// per object, as a JSON array.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

type input struct {
	Script  string        `json:"script"`
	Objects []interface{} `json:"objects"`
}

type result struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

var validStatus = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// decodeValue is Argo CD's: maps to tables by key, slices to 1-based tables, scalars to Lua scalars.
func decodeValue(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case []interface{}:
		t := l.NewTable()
		for i, item := range v {
			t.RawSetInt(i+1, decodeValue(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, decodeValue(l, item))
		}
		return t
	default:
		return lua.LNil
	}
}

func run(script string, obj interface{}) result {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(pair.f), NRet: 0, Protect: true}, lua.LString(pair.n)); err != nil {
			return result{Error: err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj))
	if err := l.DoString(script); err != nil {
		return result{Error: err.Error()}
	}
	ret := l.Get(-1)
	t, ok := ret.(*lua.LTable)
	if !ok {
		return result{Error: fmt.Sprintf("expect table output from Lua script, not %s", ret.Type().String())}
	}
	status := lua.LVAsString(t.RawGetString("status"))
	message := lua.LVAsString(t.RawGetString("message"))
	if !validStatus[status] {
		return result{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	return result{Status: status, Message: message}
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "lua-health: reading stdin:", err)
		os.Exit(2)
	}
	out := make([]result, 0, len(in.Objects))
	for _, obj := range in.Objects {
		out = append(out, run(in.Script, obj))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "lua-health: writing stdout:", err)
		os.Exit(1)
	}
}
