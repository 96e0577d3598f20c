package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// tfModule is what the test reads out of terraform/*.tf.
type tfModule struct {
	variables map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
	resources map[string]*hclsyntax.Block // "type.name"
	locals    map[string]*hclsyntax.Attribute
	providers map[string]string // local name -> source
	bodies    []*hclsyntax.Body
}

func loadTerraform(t *testing.T) tfModule {
	t.Helper()
	files, err := filepath.Glob(repoPath("terraform", "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files under terraform/ (err %v)", err)
	}
	m := tfModule{
		variables: map[string]*hclsyntax.Block{}, outputs: map[string]*hclsyntax.Block{},
		resources: map[string]*hclsyntax.Block{}, locals: map[string]*hclsyntax.Attribute{},
		providers: map[string]string{},
	}
	p := hclparse.NewParser()
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", f, diags.Error())
		}
		body := file.Body.(*hclsyntax.Body)
		m.bodies = append(m.bodies, body)
		for _, b := range body.Blocks {
			name := strings.Join(b.Labels, ".")
			switch b.Type {
			case "variable":
				m.variables[name] = b
			case "output":
				m.outputs[name] = b
			case "resource":
				m.resources[name] = b
			case "locals":
				for k, a := range b.Body.Attributes {
					m.locals[k] = a
				}
			case "terraform":
				for _, rp := range b.Body.Blocks {
					if rp.Type != "required_providers" {
						continue
					}
					for local, a := range rp.Body.Attributes {
						v, diags := a.Expr.Value(nil)
						if diags.HasErrors() {
							t.Fatalf("%s: required_providers.%s: %s", f, local, diags.Error())
						}
						m.providers[local] = v.GetAttr("source").AsString()
					}
				}
			}
		}
	}
	return m
}

func TestTerraformDeclaresTheStack(t *testing.T) {
	m := loadTerraform(t)
	if src := m.providers["docker"]; src != "kreuzwerker/docker" {
		t.Errorf("provider docker from %q, want kreuzwerker/docker", src)
	}
	for _, r := range []string{
		"docker_network.swipeflix", "docker_volume.data", "docker_image.upstream", "docker_image.swipeflix",
		"docker_container.kafka", "docker_container.kafka_init", "docker_container.nats",
		"docker_container.postgres", "docker_container.migrate", "docker_container.catalog", "docker_container.service",
		"docker_container.prometheus", "docker_container.grafana",
	} {
		if m.resources[r] == nil {
			t.Errorf("resource %s missing", r)
		}
	}
	for _, o := range []string{"api_url", "ingest_url", "grafana_url", "prometheus_url", "kafka_bootstrap", "nats_url", "database_url"} {
		b := m.outputs[o]
		if b == nil {
			t.Errorf("output %s missing", o)
			continue
		}
		if b.Body.Attributes["description"] == nil {
			t.Errorf("output %s has no description", o)
		}
	}
	for _, o := range []string{"database_url", "client_env"} {
		if !isTrue(t, m.outputs[o], "sensitive") {
			t.Errorf("output %s holds a password but is not sensitive", o)
		}
	}
	for name, b := range m.variables {
		if b.Body.Attributes["description"] == nil || b.Body.Attributes["type"] == nil {
			t.Errorf("variable %s needs a description and a type", name)
		}
	}
	// Secrets: required (no default) and sensitive, as in the compose prod profile.
	for _, v := range []string{"postgres_password", "grafana_admin_password", "ingest_tokens", "admin_token", "nats_passwords"} {
		b := m.variables[v]
		if b == nil {
			t.Errorf("variable %s missing", v)
			continue
		}
		if b.Body.Attributes["default"] != nil {
			t.Errorf("variable %s has a default; secrets must be given", v)
		}
		if !isTrue(t, b, "sensitive") {
			t.Errorf("variable %s is not sensitive", v)
		}
	}
}

// Every var.X and local.X used is declared, and every variable is used.
func TestTerraformReferences(t *testing.T) {
	m := loadTerraform(t)
	used := map[string]bool{}
	for _, body := range m.bodies {
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			expr, ok := n.(hclsyntax.Expression)
			if !ok {
				return nil
			}
			for _, tr := range expr.Variables() {
				if len(tr) < 2 {
					continue
				}
				attr, ok := tr[1].(hcl.TraverseAttr)
				if !ok {
					continue
				}
				switch tr.RootName() {
				case "var":
					used[attr.Name] = true
					if m.variables[attr.Name] == nil {
						t.Errorf("%s: var.%s is not declared", tr.SourceRange(), attr.Name)
					}
				case "local":
					if m.locals[attr.Name] == nil {
						t.Errorf("%s: local.%s is not declared", tr.SourceRange(), attr.Name)
					}
				}
			}
			return nil
		})
	}
	for name := range m.variables {
		if !used[name] {
			t.Errorf("variable %s is declared but never used", name)
		}
	}
}

// The images Terraform builds are the Dockerfiles of deploy/docker.
func TestTerraformBuildsEveryImage(t *testing.T) {
	m := loadTerraform(t)
	a := m.locals["built_images"]
	if a == nil {
		t.Fatal("local built_images missing")
	}
	call, ok := a.Expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "toset" || len(call.Args) != 1 {
		t.Fatalf("built_images should be toset([...])")
	}
	v, diags := call.Args[0].Value(nil)
	if diags.HasErrors() {
		t.Fatalf("built_images: %s", diags.Error())
	}
	var built []string
	for _, e := range v.AsValueSlice() {
		built = append(built, e.AsString())
	}
	var want []string
	for _, img := range images {
		want = append(want, img.name)
	}
	slices.Sort(built)
	slices.Sort(want)
	if !slices.Equal(built, want) {
		t.Errorf("terraform builds %v, want one image per Dockerfile %v", built, want)
	}
}

func isTrue(t *testing.T, b *hclsyntax.Block, attr string) bool {
	t.Helper()
	a := b.Body.Attributes[attr]
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(nil)
	return !diags.HasErrors() && v.True()
}

// terraform fmt, where terraform is installed.
func TestTerraformFmt(t *testing.T) {
	tf := optionalTool(t, "terraform")
	cmd := exec.Command(tf, "fmt", "-check", "-diff", "-recursive", ".")
	cmd.Dir = repoPath("terraform")
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+emptyTerraformRC(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("terraform fmt -check: %v\n%s", err, out)
	}
}

// terraform validate against the docker provider's real schema, where terraform is installed
// and the provider was built into bin/ (make terraform-provider; the registry is not reachable
// here, so it is used through a dev_overrides CLI configuration instead of terraform init).
func TestTerraformValidate(t *testing.T) {
	tf := optionalTool(t, "terraform")
	provider, err := filepath.Abs(repoPath("bin", "terraform-provider-docker"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(provider); err != nil {
		t.Skipf("docker provider not built (make terraform-provider): %v", err)
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	conf := "provider_installation {\n  dev_overrides {\n    \"kreuzwerker/docker\" = \"" + filepath.Dir(provider) + "\"\n  }\n  direct {}\n}\n"
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tf, "validate", "-no-color")
	cmd.Dir = repoPath("terraform")
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "The configuration is valid") {
		t.Fatalf("terraform validate: %v\n%s", err, out)
	}
}

// tflint, where installed.
func TestTFLint(t *testing.T) {
	tflint := optionalTool(t, "tflint", repoPath("bin", "tflint"))
	cmd := exec.Command(tflint, "--chdir="+repoPath("terraform"), "--no-color")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tflint: %v\n%s", err, out)
	}
}

func emptyTerraformRC(t *testing.T) string {
	t.Helper()
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}
