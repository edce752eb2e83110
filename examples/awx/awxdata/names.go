//go:build !wasip1

package awxdata

import "fmt"

// The vocabulary the generator draws from. Several names carry commas and double quotes on
// purpose: every CSV writer on the way must quote them.

var orgNames = []string{
	"Default", "Engineering", "Operations", `Finance, Legal & HR`, "Networking", "Security",
	`Retail "Stores"`, "Research", "Data Platform", "Customer Support",
}

func orgName(i int) string {
	if i < len(orgNames) {
		return orgNames[i]
	}
	return fmt.Sprintf("Business Unit %03d", i+1)
}

var teamNames = []string{
	"Admins", "Developers", "SRE", "DBAs", "Network Ops", `Security, Compliance & Audit`, "QA",
	`"Tiger" team`,
}

var firstNames = []string{
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
	"niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "zoe",
	"amir", "bea", "chen", "dmitri", "elena", "fatima", "goran", "hana", "ines",
}

var lastNames = []string{
	"smith", "jones", "garcia", "muller", "rossi", "dubois", "kowalski", "novak", "tanaka", "silva",
	"kim", "nguyen", "okafor", "larsen", "oconnor", "haddad", "petrov", "schmidt",
}

type env struct{ name, title string }

var envs = []env{
	{"prod", "Production"}, {"staging", "Staging"}, {"dev", "Development"}, {"qa", "QA"},
	{"dr", "Disaster recovery"},
}

var regions = []string{"EU-West", "US-East", "US-West", "APAC", "DC1, Frankfurt", "DC2, Dallas"}

var hostRoles = []string{"web", "app", "db", "lb", "cache", "mq", "k8s-node", "bastion"}

var smartInventoryNames = []string{
	"Smart: all RHEL 9 hosts", `Smart: hosts tagged "critical"`, "Smart: databases, all environments",
	"Smart: web tier",
}

// Inventory source kinds and how their sources are named.
var sourceKinds = []struct{ source, name string }{
	{"scm", "Git inventory (%s)"},
	{"ec2", "AWS EC2, %s"},
	{"vmware", `vCenter "%s"`},
	{"satellite6", "Satellite 6 - %s"},
	{"file", "Static file %s"},
}

var projectNames = []string{
	"Ansible playbooks", `Infra, "core" roles`, "Web platform", "Database automation",
	"Compliance content", "Network configs",
}

var workflowNames = []string{
	`Nightly: patch, then verify "%s"`, "Release train %s", "Provision and configure %s",
}

// executionEnvironments pairs each image with the ansible-core version inside it.
var executionEnvironments = []struct{ image, ansible string }{
	{"registry.redhat.io/ansible-automation-platform-25/ee-supported-rhel9:latest", "2.16.14"},
	{"registry.redhat.io/ansible-automation-platform-25/ee-minimal-rhel9:latest", "2.16.14"},
	{"quay.io/ansible/awx-ee:24.6.1", "2.15.13"},
	{"registry.example.com/platform/custom-ee:2.3", "2.14.18"},
}

var errorExplanations = []string{
	"Job terminated due to error",
	"Task was marked as running but was not present in the job queue, so it has been marked as failed.",
	`Previous Task Failed: {"job_type": "project_update", "job_name": "%s", "job_id": "%d"}`,
}

type task struct {
	name, action, resolvedAction, role, resolvedRole string
	changes                                          bool // a task that usually reports changed
}

type playbook struct {
	file, play, template string
	tasks                []task
}

var playbooks = []playbook{
	{"site.yml", "Configure web servers", "Configure web tier (%s)", []task{
		{"Gathering Facts", "gather_facts", "ansible.builtin.gather_facts", "", "", false},
		{"Install packages: nginx, openssl", "dnf", "ansible.builtin.dnf", "nginx", "acme.web.nginx", true},
		{`Render "nginx.conf" from template`, "template", "ansible.builtin.template", "nginx", "acme.web.nginx", true},
		{"Ensure nginx is started, enabled", "service", "ansible.builtin.service", "nginx", "acme.web.nginx", false},
		{`Create user "deploy"`, "user", "ansible.builtin.user", "users", "acme.common.users", false},
		{`Copy SSH keys, set "authorized_keys"`, "ansible.posix.authorized_key", "ansible.posix.authorized_key", "users", "acme.common.users", false},
		{"Open firewall ports 80, 443", "ansible.posix.firewalld", "ansible.posix.firewalld", "", "", false},
		{"Check health endpoint", "uri", "ansible.builtin.uri", "", "", false},
	}},
	{"patch.yml", "Apply security patches", `Patch %s, "security only"`, []task{
		{"Gathering Facts", "gather_facts", "ansible.builtin.gather_facts", "", "", false},
		{"Refresh package cache", "dnf", "ansible.builtin.dnf", "patching", "acme.common.patching", false},
		{"Apply security updates", "dnf", "ansible.builtin.dnf", "patching", "acme.common.patching", true},
		{`Check "needs-restarting", reboot hint`, "command", "ansible.builtin.command", "patching", "acme.common.patching", false},
		{"Reboot if required", "reboot", "ansible.builtin.reboot", "patching", "acme.common.patching", true},
		{"Wait for SSH, then continue", "wait_for_connection", "ansible.builtin.wait_for_connection", "", "", false},
	}},
	{"deploy_app.yml", `Deploy application, "blue" slot`, "Deploy app to %s", []task{
		{"Gathering Facts", "gather_facts", "ansible.builtin.gather_facts", "", "", false},
		{"Pull release artifact", "get_url", "ansible.builtin.get_url", "app", "acme.app.deploy", true},
		{"Unpack release, set permissions", "unarchive", "ansible.builtin.unarchive", "app", "acme.app.deploy", true},
		{"Run database migrations", "command", "ansible.builtin.command", "app", "acme.app.deploy", true},
		{`Switch symlink "current"`, "file", "ansible.builtin.file", "app", "acme.app.deploy", true},
		{"Restart app service", "systemd", "ansible.builtin.systemd_service", "app", "acme.app.deploy", true},
		{`Debug: print "release", version`, "debug", "ansible.builtin.debug", "", "", false},
	}},
	{"db_backup.yml", "Back up databases", "Nightly DB backup - %s", []task{
		{"Gathering Facts", "gather_facts", "ansible.builtin.gather_facts", "", "", false},
		{`Dump database "inventory", compress`, "community.postgresql.postgresql_db", "community.postgresql.postgresql_db", "backup", "acme.db.backup", true},
		{"Upload dump to object storage", "amazon.aws.s3_object", "amazon.aws.s3_object", "backup", "acme.db.backup", true},
		{"Prune backups older than 14 days", "find", "ansible.builtin.find", "backup", "acme.db.backup", false},
	}},
	{"compliance.yml", "CIS benchmark, level 1", "CIS scan %s", []task{
		{"Gathering Facts", "gather_facts", "ansible.builtin.gather_facts", "", "", false},
		{`Ensure "noexec" on /tmp`, "mount", "ansible.posix.mount", "cis", "acme.security.cis", false},
		{"Ensure auditd is installed, enabled", "dnf", "ansible.builtin.dnf", "cis", "acme.security.cis", false},
		{"Set password policy (minlen, minclass)", "lineinfile", "ansible.builtin.lineinfile", "cis", "acme.security.cis", false},
		{"Disable unused filesystems", "modprobe", "community.general.modprobe", "cis", "acme.security.cis", false},
		{`Set sysctl "net.ipv4.ip_forward" = 0`, "ansible.posix.sysctl", "ansible.posix.sysctl", "cis", "acme.security.cis", false},
		{"Report findings", "template", "ansible.builtin.template", "", "", true},
	}},
}
