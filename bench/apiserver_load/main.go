// apiserver_load: how many objects a Kubernetes API server accepts per second, without Poiesis.
//
// It reads units from an NDJSON file, one unit per line: a JSON array of requests
// sent one after the other, e.g. a Job, then the Secret and PVC it owns:
//
//	[{"path": "/apis/batch/v1/namespaces/NS/jobs", "body": {...}},
//	 {"path": "/api/v1/namespaces/NS/secrets", "body": {...}}]
//
// A request may give "method" (default POST) and "content_type" (default
// application/json; PATCH defaults to application/merge-patch+json). In every body
// after the first, the text __OWNER_UID__ is replaced by the uid the first response
// carried (ownerReferences of dependents, as Poiesis makes them); __NOW__ anywhere by
// the current time (RFC 3339, UTC). Units run at concurrency -c over keep-alive
// connections (net/http, one transport, the kubeconfig's token or client certificate).
//
// It prints one JSON line: units and requests per second, request latency
// percentiles, errors by status, and its own CPU time (to check it is not the
// bottleneck). With -acks FILE it writes "<last path>\t<unix ns>" per finished unit:
// the moment the API server acknowledged the unit's last request.
//
//	apiserver_load -kubeconfig KC -in units.ndjson -c 32 [-acks acks.tsv] [-label jobs]
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type request struct {
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	ContentType string          `json:"content_type"`
	Body        json.RawMessage `json:"body"`
}

type kubeconfig struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server   string `json:"server"`
			CAData   string `json:"certificate-authority-data"`
			CAFile   string `json:"certificate-authority"`
			Insecure bool   `json:"insecure-skip-tls-verify"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			Token    string `json:"token"`
			CertData string `json:"client-certificate-data"`
			KeyData  string `json:"client-key-data"`
			CertFile string `json:"client-certificate"`
			KeyFile  string `json:"client-key"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
}

type client struct {
	server string
	token  string
	http   *http.Client
}

func readData(data, file string) []byte {
	if data != "" {
		b, err := base64.StdEncoding.DecodeString(data)
		must(err)
		return b
	}
	if file != "" {
		b, err := os.ReadFile(file)
		must(err)
		return b
	}
	return nil
}

// newClient reads a kubeconfig in JSON form (scripts/cluster writes JSON, which YAML includes).
func newClient(path string, conns int) *client {
	raw, err := os.ReadFile(path)
	must(err)
	var kc kubeconfig
	must(json.Unmarshal(raw, &kc))
	ctxCluster, ctxUser := "", ""
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			ctxCluster, ctxUser = c.Context.Cluster, c.Context.User
		}
	}
	cl := &client{}
	tlsConf := &tls.Config{}
	for _, c := range kc.Clusters {
		if c.Name == ctxCluster {
			cl.server = strings.TrimRight(c.Cluster.Server, "/")
			if ca := readData(c.Cluster.CAData, c.Cluster.CAFile); ca != nil {
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(ca)
				tlsConf.RootCAs = pool
			}
			tlsConf.InsecureSkipVerify = c.Cluster.Insecure
		}
	}
	for _, u := range kc.Users {
		if u.Name == ctxUser {
			cl.token = u.User.Token
			cert, key := readData(u.User.CertData, u.User.CertFile), readData(u.User.KeyData, u.User.KeyFile)
			if cert != nil && key != nil {
				pair, err := tls.X509KeyPair(cert, key)
				must(err)
				tlsConf.Certificates = []tls.Certificate{pair}
			}
		}
	}
	if cl.server == "" {
		fail("no server for context %q in %s", kc.CurrentContext, path)
	}
	cl.http = &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     tlsConf,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			ForceAttemptHTTP2:   false, // HTTP/1.1: one request per connection, as Poiesis's urllib3 pool
			TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		},
	}
	return cl
}

func (cl *client) do(r request, body []byte) (int, []byte, time.Duration, error) {
	method := r.Method
	if method == "" {
		method = "POST"
	}
	ct := r.ContentType
	if ct == "" {
		ct = "application/json"
		if method == "PATCH" {
			ct = "application/merge-patch+json"
		}
	}
	req, err := http.NewRequest(method, cl.server+r.Path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", "application/json")
	if cl.token != "" {
		req.Header.Set("Authorization", "Bearer "+cl.token)
	}
	start := time.Now()
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, nil, time.Since(start), err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, data, time.Since(start), err
}

type result struct {
	Label       string           `json:"label,omitempty"`
	C           int              `json:"c"`
	Units       int              `json:"units"`
	UnitsOK     int              `json:"units_ok"`
	Requests    int              `json:"requests"`
	RequestsOK  int              `json:"requests_ok"`
	ElapsedS    float64          `json:"elapsed_s"`
	UnitsPerS   float64          `json:"units_per_s"`
	RequestsPer float64          `json:"requests_per_s"`
	P50ms       float64          `json:"p50_ms"`
	P90ms       float64          `json:"p90_ms"`
	P99ms       float64          `json:"p99_ms"`
	MaxMs       float64          `json:"max_ms"`
	Errors      map[string]int   `json:"errors"`
	FirstError  string           `json:"first_error,omitempty"`
	ClientCPUs  float64          `json:"client_cpu_s"`
	PerStep     map[string]int64 `json:"requests_per_step"`
}

func main() {
	kcPath := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig (JSON)")
	in := flag.String("in", "", "NDJSON file of units")
	c := flag.Int("c", 16, "concurrent units")
	acks := flag.String("acks", "", "write '<last path>\\t<unix ns>' per finished unit")
	label := flag.String("label", "", "label in the output")
	flag.Parse()
	if *in == "" || *kcPath == "" {
		fail("usage: apiserver_load -kubeconfig KC -in units.ndjson [-c N] [-acks FILE]")
	}
	var units [][]request
	f, err := os.Open(*in)
	must(err)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var u []request
		must(json.Unmarshal(line, &u))
		units = append(units, u)
	}
	must(sc.Err())
	f.Close()
	cl := newClient(*kcPath, *c)

	type ack struct {
		path string
		ns   int64
	}
	var (
		mu      sync.Mutex
		lats    []float64
		errs    = map[string]int{}
		first   string
		unitsOK int
		reqs    int
		ackList []ack
		perStep = map[string]int64{}
	)
	next := make(chan int)
	var wg sync.WaitGroup
	cpu0 := cpuSeconds()
	start := time.Now()
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				uid := ""
				ok := true
				for k, r := range units[i] {
					body := []byte(r.Body)
					if k > 0 && uid != "" {
						body = bytes.ReplaceAll(body, []byte("__OWNER_UID__"), []byte(uid))
					}
					if bytes.Contains(body, []byte("__NOW__")) {
						now := time.Now().UTC().Format(time.RFC3339)
						body = bytes.ReplaceAll(body, []byte("__NOW__"), []byte(now))
					}
					status, data, d, err := cl.do(r, body)
					mu.Lock()
					reqs++
					lats = append(lats, float64(d.Microseconds())/1000)
					if err != nil || status >= 300 {
						key := fmt.Sprint(status)
						if err != nil {
							key = "transport"
						}
						errs[key]++
						if first == "" {
							msg := string(data)
							if err != nil {
								msg = err.Error()
							}
							if len(msg) > 300 {
								msg = msg[:300]
							}
							first = fmt.Sprintf("%s %s: %d %s", r.Method, r.Path, status, msg)
						}
						ok = false
					} else {
						perStep[fmt.Sprint(k)]++
					}
					mu.Unlock()
					if !ok {
						break
					}
					if k == 0 {
						var meta struct {
							Metadata struct {
								UID string `json:"uid"`
							} `json:"metadata"`
						}
						_ = json.Unmarshal(data, &meta)
						uid = meta.Metadata.UID
					}
				}
				if ok {
					now := time.Now().UnixNano()
					mu.Lock()
					unitsOK++
					ackList = append(ackList, ack{units[i][len(units[i])-1].Path, now})
					mu.Unlock()
				}
			}
		}()
	}
	for i := range units {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Float64s(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		i := int(p/100*float64(len(lats)-1) + 0.5)
		return lats[i]
	}
	res := result{
		Label: *label, C: *c, Units: len(units), UnitsOK: unitsOK, Requests: reqs,
		RequestsOK: reqs - sum(errs), ElapsedS: elapsed,
		UnitsPerS: float64(unitsOK) / elapsed, RequestsPer: float64(reqs-sum(errs)) / elapsed,
		P50ms: pct(50), P90ms: pct(90), P99ms: pct(99), MaxMs: pct(100),
		Errors: errs, FirstError: first, ClientCPUs: cpuSeconds() - cpu0, PerStep: perStep,
	}
	if *acks != "" {
		out, err := os.Create(*acks)
		must(err)
		w := bufio.NewWriter(out)
		for _, a := range ackList {
			fmt.Fprintf(w, "%s\t%d\n", a.path, a.ns)
		}
		must(w.Flush())
		must(out.Close())
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func must(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "apiserver_load: "+format+"\n", args...)
	os.Exit(2)
}
