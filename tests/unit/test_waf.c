/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the WAF's wrapper (src/edge/waf.c). What sluice keeps of
 * ModSecurity's messages, on messages libmodsecurity 3.0.9 wrote running
 * Debian's Core Rule Set 3.3.4 (captured; tests/fuzz/corpus/waf holds
 * them too): the rule, message, severity and data read, a forged or cut
 * message refused, the data's card numbers masked, a credential field's
 * value replaced and a credential's NAME=VALUE starred, the anomaly
 * score; three defects found writing them (fixed). Then, with
 * libmodsecurity, rule sets loaded (a good file, a broken one, a missing one,
 * exclusions) and requests inspected with a small rule file of this test's own
 * (an intervention's status, a pass, a phase 1 intervention that skips the
 * body, JSON bodies through rule 77001, the logging phase, eight hits
 * kept, many threads on one set), and with the Core Rule Set when it is
 * installed. Without libmodsecurity, the stubs' answers.
 */
#include <dirent.h>
#include <glob.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "waf.c"

/* ---- messages ModSecurity 3.0.9 wrote (Debian CRS 3.3.4) --------------- */

/* GET /search?q=1' or 1=1-- */
static const char M_SQLI[] =
    "ModSecurity: Warning. detected SQLi using libinjection. [file \""
    "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-"
    "SQLI.conf\"] [line \"46\"] [id \"942100\"] [rev \"\"] [msg \"SQL"
    " Injection Attack Detected via libinjection\"] [data \"Matched D"
    "ata: s&1c found within ARGS:q: 1' or 1=1--\"] [severity \"2\"] ["
    "ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] [accuracy \"0\"] [host"
    "name \"10.0.0.2\"] [uri \"/search\"] [unique_id \"179569126372.6"
    "18063\"] [ref \"v14,11\"]";

static const char M_BLOCK[] =
    "[client 10.0.0.1] ModSecurity: Access denied with code 403 (phas"
    "e 2). Matched \"Operator `Ge' with parameter `5' against variabl"
    "e `TX:ANOMALY_SCORE' (Value: `5' ) [file \"/usr/share/modsecurit"
    "y-crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf\"] [line \"81\""
    "] [id \"949110\"] [rev \"\"] [msg \"Inbound Anomaly Score Exceed"
    "ed (Total Score: 5)\"] [data \"\"] [severity \"2\"] [ver \"OWASP"
    "_CRS/3.3.4\"] [maturity \"0\"] [accuracy \"0\"] [tag \"applicati"
    "on-multi\"] [tag \"language-multi\"] [tag \"platform-multi\"] [t"
    "ag \"attack-generic\"] [hostname \"10.0.0.2\"] [uri \"/search\"]"
    " [unique_id \"179569126372.618063\"] [ref \"\"]";

static const char M_IP_HOST[] =
    "ModSecurity: Warning. Matched \"Operator `Rx' with parameter `^["
    "\\d.:]+$' against variable `REQUEST_HEADERS:Host' (Value: `10.1."
    "2.3' ) [file \"/usr/share/modsecurity-crs/rules/REQUEST-920-PROT"
    "OCOL-ENFORCEMENT.conf\"] [line \"719\"] [id \"920350\"] [rev \"\""
    "] [msg \"Host header is a numeric IP address\"] [data \"10.1.2.3"
    "\"] [severity \"4\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] "
    "[accuracy \"0\"] [tag \"application-multi\"] [tag \"language-mul"
    "ti\"] [tag \"platform-multi\"] [tag \"attack-protocol\"] [tag \""
    "paranoia-level/1\"] [tag \"OWASP_CRS\"] [tag \"capec/1000/210/27"
    "2\"] [tag \"PCI/6.5.10\"] [hostname \"10.0.0.2\"] [uri \"/x\"] ["
    "unique_id \"17956912636.037688\"] [ref \"o0,8v77,8\"]";

static const char M_JSON_TOKEN[] =
    "ModSecurity: Warning. detected SQLi using libinjection. [file \""
    "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-"
    "SQLI.conf\"] [line \"46\"] [id \"942100\"] [rev \"\"] [msg \"SQL"
    " Injection Attack Detected via libinjection\"] [data \"Matched D"
    "ata: s&1c found within ARGS:json.card.token: x' or 1=1--\"] [sev"
    "erity \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] [accurac"
    "y \"0\"] [hostname \"10.0.0.2\"] [uri \"/api/pay\"] [unique_id \""
    "179569126374.110564\"] [ref \"v16,11\"]";

static const char M_JSON_PIN[] =
    "ModSecurity: Warning. detected SQLi using libinjection. [file \""
    "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-"
    "SQLI.conf\"] [line \"46\"] [id \"942100\"] [rev \"\"] [msg \"SQL"
    " Injection Attack Detected via libinjection\"] [data \"Matched D"
    "ata: s&sos found within ARGS:json.pin: 1' or '1'='1\"] [severity"
    " \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] [accuracy \"0"
    "\"] [hostname \"10.0.0.2\"] [uri \"/api/pay\"] [unique_id \"1795"
    "69126374.110564\"] [ref \"v16,11v9,12\"]";

static const char M_COOKIE[] =
    "ModSecurity: Warning. detected SQLi using libinjection. [file \""
    "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-"
    "SQLI.conf\"] [line \"46\"] [id \"942100\"] [rev \"\"] [msg \"SQL"
    " Injection Attack Detected via libinjection\"] [data \"Matched D"
    "ata: s&1c found within REQUEST_COOKIES:session: abc' or 1=1--\"]"
    " [severity \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] [ac"
    "curacy \"0\"] [hostname \"10.0.0.2\"] [uri \"/x\"] [unique_id \""
    "179569126359.154195\"] [ref \"v110,13\"]";

static const char M_CARD[] =
    "ModSecurity: Warning. detected SQLi using libinjection. [file \""
    "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-"
    "SQLI.conf\"] [line \"46\"] [id \"942100\"] [rev \"\"] [msg \"SQL"
    " Injection Attack Detected via libinjection\"] [data \"Matched D"
    "ata: s&1c found within ARGS:q: 4111111111111111' or 1=1--\"] [se"
    "verity \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] [accura"
    "cy \"0\"] [hostname \"10.0.0.2\"] [uri \"/x\"] [unique_id \"1795"
    "69126418.103303\"] [ref \"v9,26\"]";

static const char M_FORGED_URI[] =
    "ModSecurity: Warning. detected SQLi using libinjection. [file \""
    "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-"
    "SQLI.conf\"] [line \"46\"] [id \"942100\"] [rev \"\"] [msg \"SQL"
    " Injection Attack Detected via libinjection\"] [data \"Matched D"
    "ata: s&1c found within ARGS:q: ' or 1=1--\\xc3\\xa9\\x01\"] [sev"
    "erity \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] [accurac"
    "y \"0\"] [hostname \"10.0.0.2\"] [uri \"/[id \"999\"]/x\"] [uniq"
    "ue_id \"179569126436.675128\"] [ref \"v30,13\"]";

static const char M_FORGED_VALUE[] =
    "ModSecurity: Warning. Matched \"Operator `Rx' with parameter `(?"
    "i)<script[^>]*>[\\s\\S]*?' against variable `ARGS:q' (Value: `<s"
    "cript>\"] [id \"9\"]' ) [file \"/usr/share/modsecurity-crs/rules"
    "/REQUEST-941-APPLICATION-ATTACK-XSS.conf\"] [line \"64\"] [id \""
    "941110\"] [rev \"\"] [msg \"XSS Filter - Category 1: Script Tag "
    "Vector\"] [data \"Matched Data: <script> found within ARGS:q: <s"
    "cript>\\x22] [id \\x229\\x22]\"] [severity \"2\"] [ver \"OWASP_C"
    "RS/3.3.4\"] [maturity \"0\"] [accuracy \"0\"] [tag \"application"
    "-multi\"] [tag \"language-multi\"] [tag \"platform-multi\"] [tag"
    " \"attack-xss\"] [tag \"paranoia-level/1\"] [tag \"OWASP_CRS\"] "
    "[tag \"capec/1000/152/242\"] [hostname \"10.0.0.2\"] [uri \"/x\""
    "] [unique_id \"179569138029.744626\"] [ref \"o0,8v9,19t:utf8toUn"
    "icode,t:urlDecodeUni,t:htmlEntityDecode,t:jsDecode,t:cssDecode,t"
    ":removeNulls\"]";

static const char M_ESCAPED[] =
    "ModSecurity: Warning. detected SQLi using libinjection. [file \""
    "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-"
    "SQLI.conf\"] [line \"46\"] [id \"942100\"] [rev \"\"] [msg \"SQL"
    " Injection Attack Detected via libinjection\"] [data \"Matched D"
    "ata: s&1c found within ARGS:q: \\x22] [id \\x22999\\x22] ' or 1="
    "1--\"] [severity \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\""
    "] [accuracy \"0\"] [hostname \"10.0.0.2\"] [uri \"/x\"] [unique_"
    "id \"179569126443.039426\"] [ref \"v9,24\"]";

static const char M_DATA_CUT[] =
    "ModSecurity: Warning. Matched \"Operator `Rx' with parameter `(?"
    "i)union.*?select.*?from' against variable `ARGS:password' (Value"
    ": `1' union select a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a"
    ",a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a, (90 characters omitted)'"
    " ) [file \"/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICAT"
    "ION-ATTACK-SQLI.conf\"] [line \"278\"] [id \"942270\"] [rev \"\""
    "] [msg \"Looking for basic sql injection. Common attack string f"
    "or mysql, oracle and others\"] [data \"Matched Data: union selec"
    "t a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,"
    "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,"
    "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,b from found  (212 characters "
    "omitted)\"] [severity \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity"
    " \"0\"] [accuracy \"0\"] [tag \"application-multi\"] [tag \"lang"
    "uage-multi\"] [tag \"platform-multi\"] [tag \"attack-sqli\"] [ta"
    "g \"paranoia-level/1\"] [tag \"OWASP_CRS\"] [tag \"capec/1000/15"
    "2/248/66\"] [tag \"PCI/6.5.2\"] [hostname \"10.0.0.2\"] [uri \"/"
    "login\"] [unique_id \"179569126352.432024\"] [ref \"o3,179v163,1"
    "90t:urlDecodeUni\"]";

static const char M_PASSWORD[] =
    "ModSecurity: Warning. Matched \"Operator `Rx' with parameter `(?"
    "i:(?:^[\\W\\d]+\\s*?(?:(?:alter\\s*(?:a(?:(?:pplication\\s*rol|g"
    "gregat)e|s(?:ymmetric\\s*ke|sembl)y|u(?:thorization|dit)|vailabi"
    "lity\\s*group)|c(?:r(?:yptographic\\s*provider|edential)|o(?:l(?"
    ":latio|um)|nve (1040 characters omitted)' against variable `ARGS"
    ":password' (Value: `1' union select a,a,a,a,a,a,a,a,a,a,a,a,a,a,"
    "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a, (90 cha"
    "racters omitted)' ) [file \"/usr/share/modsecurity-crs/rules/REQ"
    "UEST-942-APPLICATION-ATTACK-SQLI.conf\"] [line \"426\"] [id \"94"
    "2360\"] [rev \"\"] [msg \"Detects concatenated basic SQL injecti"
    "on and SQLLFI attempts\"] [data \"Matched Data: 1' union select "
    "found within ARGS:password: 1' union select a,a,a,a,a,a,a,a,a,a,"
    "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,"
    "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a, (48 characters omitte"
    "d)\"] [severity \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\""
    "] [accuracy \"0\"] [tag \"application-multi\"] [tag \"language-m"
    "ulti\"] [tag \"platform-multi\"] [tag \"attack-sqli\"] [tag \"pa"
    "ranoia-level/1\"] [tag \"OWASP_CRS\"] [tag \"capec/1000/152/248/"
    "66\"] [tag \"PCI/6.5.2\"] [hostname \"10.0.0.2\"] [uri \"/login\""
    "] [unique_id \"179569126352.432024\"] [ref \"o0,15v163,190t:urlD"
    "ecodeUni\"]";

static const char M_METHOD[] =
    "ModSecurity: Warning. Matched \"Operator `Within' with parameter"
    " `GET HEAD POST OPTIONS' against variable `REQUEST_METHOD' (Valu"
    "e: `TRACE' ) [file \"/usr/share/modsecurity-crs/rules/REQUEST-91"
    "1-METHOD-ENFORCEMENT.conf\"] [line \"28\"] [id \"911100\"] [rev "
    "\"\"] [msg \"Method is not allowed by policy\"] [data \"TRACE\"]"
    " [severity \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] [ac"
    "curacy \"0\"] [tag \"application-multi\"] [tag \"language-multi\""
    "] [tag \"platform-multi\"] [tag \"attack-generic\"] [tag \"paran"
    "oia-level/1\"] [tag \"OWASP_CRS\"] [tag \"capec/1000/210/272/220"
    "/274\"] [tag \"PCI/12.1\"] [hostname \"10.0.0.2\"] [uri \"/x\"] "
    "[unique_id \"179569126453.707725\"] [ref \"v0,5\"]";

/* a form body whose note is a smuggled request line (rule 921110 on
 * REQUEST_BODY): user=bob&password=hunter2&note=x\r\nGET /admin HTTP/1.1 */
static const char M_FORM_BODY[] =
    "ModSecurity: Warning. Matched \"Operator `Rx' with parameter `(?"
    ":get|post|head|options|connect|put|delete|trace|track|patch|prop"
    "find|propatch|mkcol|copy|move|lock|unlock)\\s+(?:\\/|\\w)[^\\s]*"
    "(?:\\s+http\\/\\d|[\\r\\n])' against variable `REQUEST_BODY' (Va"
    "lue: `user=bob&password=hunter2&note=x%0d%0aGET%20/admin%20HTTP/"
    "1.1%0d%0a' ) [file \"/usr/share/modsecurity-crs/rules/REQUEST-92"
    "1-PROTOCOL-ATTACK.conf\"] [line \"34\"] [id \"921110\"] [rev \"\""
    "] [msg \"HTTP Request Smuggling Attack\"] [data \"Matched Data: "
    "get /admin http/1 found within REQUEST_BODY: user=bob&password=h"
    "unter2&note=x\\x0d\\x0aget /admin http/1.1\\x0d\\x0a\"] [severit"
    "y \"2\"] [ver \"OWASP_CRS/3.3.4\"] [maturity \"0\"] [accuracy \""
    "0\"] [tag \"application-multi\"] [tag \"language-multi\"] [tag \""
    "platform-multi\"] [tag \"attack-protocol\"] [tag \"paranoia-leve"
    "l/1\"] [tag \"OWASP_CRS\"] [tag \"capec/1000/210/272/220/33\"] ["
    "hostname \"10.0.0.2\"] [uri \"/login\"] [unique_id \"17956928603"
    "7.107800\"] [ref \"o3,17v175,24t:urlDecodeUni,t:htmlEntityDecode"
    ",t:lowercaseo34,17v144,67t:urlDecodeUni,t:htmlEntityDecode,t:low"
    "ercase\"]";

/* the same in a JSON body: {"password":"hunter2","note":"x\nGET ..."} */
static const char M_JSON_BODY[] =
    "ModSecurity: Warning. Matched \"Operator `Rx' with parameter `(?"
    ":get|post|head|options|connect|put|delete|trace|track|patch|prop"
    "find|propatch|mkcol|copy|move|lock|unlock)\\s+(?:\\/|\\w)[^\\s]*"
    "(?:\\s+http\\/\\d|[\\r\\n])' against variable `REQUEST_BODY' (Va"
    "lue: `{\"password\":\"hunter2\",\"note\":\"x\\nGET /admin HTTP/1"
    ".1\\nHost: y\"}' ) [file \"/usr/share/modsecurity-crs/rules/REQU"
    "EST-921-PROTOCOL-ATTACK.conf\"] [line \"34\"] [id \"921110\"] [r"
    "ev \"\"] [msg \"HTTP Request Smuggling Attack\"] [data \"Matched"
    " Data: get /admin http/1 found within REQUEST_BODY: {\\x22passwo"
    "rd\\x22:\\x22hunter2\\x22,\\x22note\\x22:\\x22x\\x5cnget /admin "
    "http/1.1\\x5cnhost: y\\x22}\"] [severity \"2\"] [ver \"OWASP_CRS"
    "/3.3.4\"] [maturity \"0\"] [accuracy \"0\"] [tag \"application-m"
    "ulti\"] [tag \"language-multi\"] [tag \"platform-multi\"] [tag \""
    "attack-protocol\"] [tag \"paranoia-level/1\"] [tag \"OWASP_CRS\""
    "] [tag \"capec/1000/210/272/220/33\"] [hostname \"10.0.0.2\"] [u"
    "ri \"/api/login\"] [unique_id \"179569285927.814562\"] [ref \"o2"
    ",17v10,29t:urlDecodeUni,t:htmlEntityDecode,t:lowercaseo33,17v130"
    ",63t:urlDecodeUni,t:htmlEntityDecode,t:lowercase\"]";

/* ---- sl_waf_parse_msg ---------------------------------------------------- */

static int
parse(const char *m, struct sl_waf_hit *h)
{
	return sl_waf_parse_msg(m, strlen(m), h);
}

static void
assert_refused(const struct sl_waf_hit *h)
{
	assert_int_equal(h->id, 0);
	assert_int_equal(h->severity, 255);
	assert_string_equal(h->msg, "");
	assert_string_equal(h->data, "");
}

static void
test_parse_crs(void **state)
{
	struct sl_waf_hit h;

	(void)state;
	assert_int_equal(parse(M_SQLI, &h), 1);
	assert_int_equal(h.id, 942100);
	assert_int_equal(h.severity, 2);
	assert_string_equal(h.msg,
			    "SQL Injection Attack Detected via libinjection");
	assert_string_equal(
	    h.data, "Matched Data: s&1c found within ARGS:q: 1' or 1=1--");

	assert_int_equal(parse(M_BLOCK, &h), 1);
	assert_int_equal(h.id, 949110);
	assert_int_equal(h.severity, 2);
	assert_string_equal(h.msg,
			    "Inbound Anomaly Score Exceeded (Total Score: 5)");
	assert_string_equal(h.data, "");
	assert_int_equal(sl_waf_msg_score(h.msg), 5);

	/* data without " found within": the value alone */
	assert_int_equal(parse(M_IP_HOST, &h), 1);
	assert_int_equal(h.id, 920350);
	assert_int_equal(h.severity, 4);
	assert_string_equal(h.msg, "Host header is a numeric IP address");
	assert_string_equal(h.data, "10.1.2.3");

	assert_int_equal(parse(M_METHOD, &h), 1);
	assert_int_equal(h.id, 911100);
	assert_string_equal(h.data, "TRACE");

	/* ModSecurity's escapes stay as they are, printable */
	assert_int_equal(parse(M_ESCAPED, &h), 1);
	assert_int_equal(h.id, 942100);
	assert_string_equal(h.data, "Matched Data: s&1c found within ARGS:q: "
				    "\\x22] [id \\x22999\\x22] ' or 1=1--");
}

static void
test_parse_masked(void **state)
{
	struct sl_waf_hit h;

	(void)state;
	/* a JSON body's field: its name is its path */
	assert_int_equal(parse(M_JSON_TOKEN, &h), 1);
	assert_int_equal(h.id, 942100);
	assert_string_equal(
	    h.data, "Matched Data: * found within ARGS:json.card.token: *");
	assert_int_equal(parse(M_COOKIE, &h), 1);
	assert_string_equal(
	    h.data, "Matched Data: * found within REQUEST_COOKIES:session: *");
	/* long data: the name within what is kept */
	assert_int_equal(parse(M_PASSWORD, &h), 1);
	assert_int_equal(h.id, 942360);
	assert_string_equal(h.data,
			    "Matched Data: * found within ARGS:password: *");
	/* the whole body: its credential pairs starred */
	assert_int_equal(parse(M_FORM_BODY, &h), 1);
	assert_int_equal(h.id, 921110);
	assert_non_null(strstr(h.data,
			       "REQUEST_BODY: user=bob&password=*******&"
			       "note=x"));
	/* a card number in a value that is no credential's */
	assert_int_equal(parse(M_CARD, &h), 1);
	assert_string_equal(h.data, "Matched Data: s&1c found within ARGS:q: "
				    "411111******1111' or 1=1--");
}

/* Markers forged in what the client sent: the message is not trusted. */
static void
test_parse_forged(void **state)
{
	struct sl_waf_hit h;
	char m[1024];

	(void)state;
	assert_int_equal(parse(M_FORGED_URI, &h), 0);
	assert_refused(&h);
	assert_int_equal(parse(M_FORGED_VALUE, &h), 0);
	assert_refused(&h);
	/* two ids, whichever comes first */
	assert_int_equal(parse("[id \"1\"] [id \"2\"]", &h), 0);
	assert_int_equal(parse("[id \"1\"] [uri \"/[id \"1\"]\"]", &h), 0);
	/* a value ending with "[id " and the data's own closing quote */
	assert_int_equal(
	    parse("[id \"3\"] [data \"x [id \"] [severity \"2\"]", &h), 0);
	/* a forged data, msg or severity: that field is dropped, the hit
	 * kept */
	snprintf(m, sizeof(m),
		 "ModSecurity: Warning. Matched \"Operator `Rx' against "
		 "variable `ARGS:q' (Value: `[data \"x\"] [msg \"y\"] "
		 "[severity \"0\"]' ) [id \"941110\"] [msg \"real\"] "
		 "[data \"Matched Data: <script> found within ARGS:q: "
		 "x\"] [severity \"2\"]");
	assert_int_equal(parse(m, &h), 1);
	assert_int_equal(h.id, 941110);
	assert_string_equal(h.msg, "");
	assert_string_equal(h.data, "");
	assert_int_equal(h.severity, 255);
}

/* Every prefix of a real message: the id once its `"]` is in, each other
 * field once its own is. */
static void
test_parse_truncated(void **state)
{
	size_t n = strlen(M_SQLI);
	size_t id_end = (size_t)(strstr(M_SQLI, "[id \"942100\"]") - M_SQLI) +
			strlen("[id \"942100\"]");
	size_t msg_end = (size_t)(strstr(M_SQLI, "libinjection\"]") - M_SQLI) +
			 strlen("libinjection\"]");
	size_t data_end =
	    (size_t)(strstr(M_SQLI, "1=1--\"]") - M_SQLI) + strlen("1=1--\"]");
	size_t sev_end = (size_t)(strstr(M_SQLI, "[severity \"2\"]") - M_SQLI) +
			 strlen("[severity \"2\"]");
	struct sl_waf_hit h;

	(void)state;
	for (size_t k = 0; k <= n; k++) {
		/* a heap copy of exactly k bytes: a read past it is seen */
		char *m = malloc(k ? k : 1);
		int r;
		assert_non_null(m);
		memcpy(m, M_SQLI, k);
		r = sl_waf_parse_msg(m, k, &h);
		free(m);
		if (k < id_end) {
			assert_int_equal(r, 0);
			assert_refused(&h);
			continue;
		}
		assert_int_equal(r, 1);
		assert_int_equal(h.id, 942100);
		assert_int_equal(h.msg[0] != '\0', k >= msg_end);
		assert_int_equal(h.data[0] != '\0', k >= data_end);
		assert_int_equal(h.severity, k >= sev_end ? 2 : 255);
	}
	assert_int_equal(sl_waf_parse_msg("", 0, &h), 0);
	assert_int_equal(parse("[id \"", &h), 0);
	assert_int_equal(parse("[id \"1\"", &h), 0);
	assert_int_equal(parse("[id \"1\"]", &h), 1);
	assert_int_equal(h.id, 1);
	assert_int_equal(parse("[id \"1\"] [data \"abc\"", &h), 1);
	assert_string_equal(h.data, "");
}

static void
test_parse_fields(void **state)
{
	struct sl_waf_hit h;
	char m[1024], want[SL_WAF_DATA_MAX];
	size_t pre;

	(void)state;
	/* ids: 1 to 9 decimal digits */
	assert_int_equal(parse("[id \"\"]", &h), 0);
	assert_int_equal(parse("[id \"94x100\"]", &h), 0);
	assert_int_equal(parse("[id \"-1\"]", &h), 0);
	assert_int_equal(parse("[id \" 1\"]", &h), 0);
	assert_int_equal(parse("[id \"4294967296\"]", &h), 0);
	assert_int_equal(parse("[id \"1234567890\"]", &h), 0);
	assert_int_equal(parse("[id \"999999999\"]", &h), 1);
	assert_int_equal(h.id, 999999999);
	assert_int_equal(parse("[id \"007\"]", &h), 1);
	assert_int_equal(h.id, 7);
	/* the marker exactly: "[ id", "[ID" are other text */
	assert_int_equal(parse("[ID \"1\"]", &h), 0);
	assert_int_equal(parse("[id  \"1\"]", &h), 0);

	/* severities: one digit 0..7 */
	assert_int_equal(parse("[id \"1\"] [severity \"0\"]", &h), 1);
	assert_int_equal(h.severity, 0);
	assert_int_equal(parse("[id \"1\"] [severity \"7\"]", &h), 1);
	assert_int_equal(h.severity, 7);
	assert_int_equal(parse("[id \"1\"] [severity \"8\"]", &h), 1);
	assert_int_equal(h.severity, 255);
	assert_int_equal(parse("[id \"1\"] [severity \"12\"]", &h), 1);
	assert_int_equal(h.severity, 255);
	assert_int_equal(parse("[id \"1\"] [severity \"\"]", &h), 1);
	assert_int_equal(h.severity, 255);
	assert_int_equal(parse("[id \"1\"] [severity \"CRITICAL\"]", &h), 1);
	assert_int_equal(h.severity, 255);

	/* control and non-ASCII bytes: '?' */
	assert_int_equal(parse("[id \"1\"] [msg \"a\x01\tb\xc3\xa9\"]", &h), 1);
	assert_string_equal(h.msg, "a??b??");

	/* a long message: cut */
	memset(m, 0, sizeof(m));
	strcpy(m, "[id \"1\"] [msg \"");
	memset(m + strlen(m), 'm', 300);
	strcat(m, "\"]");
	assert_int_equal(parse(m, &h), 1);
	assert_int_equal(strlen(h.msg), SL_WAF_MSG_MAX - 1);

	/* long data cut through a card number: the digits past the sixth
	 * masked, as its end is lost */
	snprintf(m, sizeof(m),
		 "[id \"1\"] [data \"Matched Data: x found within ARGS:q: "
		 "%.113s4111111111111111 and more\"]",
		 /* not hexadecimal: a digest's digits are left (pan.h) */
		 "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
		 "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	assert_int_equal(parse(m, &h), 1);
	pre = strlen("Matched Data: x found within ARGS:q: ") + 113;
	assert_int_equal(strlen(h.data), SL_WAF_DATA_MAX - 1);
	assert_true(pre + 6 < SL_WAF_DATA_MAX - 1 &&
		    pre + 16 > SL_WAF_DATA_MAX - 1);
	memcpy(want, m + strlen("[id \"1\"] [data \""), SL_WAF_DATA_MAX - 1);
	want[SL_WAF_DATA_MAX - 1] = '\0';
	for (size_t i = pre + 6; i < SL_WAF_DATA_MAX - 1; i++)
		want[i] = '*';
	assert_string_equal(h.data, want);
}

/* ---- sl_waf_mask_data ---------------------------------------------------- */

static const char *
mask(const char *s)
{
	static char buf[512];
	size_t n = strlen(s);

	assert_true(n < sizeof(buf));
	memcpy(buf, s, n + 1);
	sl_waf_mask_data(buf, n);
	assert_true(strlen(buf) <= n);
	return buf;
}

static void
test_mask_cards(void **state)
{
	(void)state;
	assert_string_equal(
	    mask("Matched Data: x found within ARGS:q: 4111 1111 1111 1111"),
	    "Matched Data: x found within ARGS:q: 4111 11** **** 1111");
	assert_string_equal(mask("4111111111111111"), "411111******1111");
	assert_string_equal(mask("4111-1111-1111-1111 and 5500000000000004"),
			    "4111-11**-****-1111 and 550000******0004");
	/* percent-encoded digits and separators */
	assert_string_equal(mask("q=4111%201111%201111%201111"),
			    "q=4111%2011**%20****%201111");
	/* no Luhn, too short: left */
	assert_string_equal(mask("4111111111111112"), "4111111111111112");
	assert_string_equal(mask("411111111111"), "411111111111");
	assert_string_equal(mask(""), "");
}

static void
test_mask_credentials(void **state)
{
	static const char *const secret[] = {
	    "ARGS:password",
	    "ARGS:user_password",
	    "ARGS:Passwd",
	    "ARGS:client_secret",
	    "ARGS:cvv",
	    "ARGS:card_CVC",
	    "ARGS:api_key",
	    "ARGS:apikey",
	    "REQUEST_HEADERS:X-Api-Key",
	    "REQUEST_HEADERS:Authorization",
	    "REQUEST_HEADERS:Cookie",
	    "REQUEST_COOKIES:sessionid",
	    "REQUEST_COOKIES:JSESSIONID",
	    "ARGS:pin",
	    "ARGS:PIN",
	    "ARGS:json.card.token",
	    "ARGS:json.auth.refresh_token",
	    "ARGS:json.Password",
	};
	static const char *const plain[] = {
	    "ARGS:shipping",	    "ARGS:spin", "ARGS:pinned",
	    "ARGS:pin_hint",	    "ARGS:q",	 "ARGS:json.note",
	    "REQUEST_HEADERS:Host", "ARGS:tok",	 "ARGS:pass",
	    "REQUEST_URI",
	};
	char in[256], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		snprintf(in, sizeof(in),
			 "Matched Data: s&1c found within %s: hunter2 or 1=1",
			 secret[i]);
		snprintf(want, sizeof(want),
			 "Matched Data: * found within %s: *", secret[i]);
		assert_string_equal(mask(in), want);
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		snprintf(in, sizeof(in),
			 "Matched Data: s&1c found within %s: hunter2 or 1=1",
			 plain[i]);
		assert_string_equal(mask(in), in);
	}
	/* a name of any length: VARIABLE:NAME's first 80 characters */
	snprintf(in, sizeof(in),
		 "Matched Data: x found within ARGS:json.%s.token: value",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	snprintf(want, sizeof(want), "Matched Data: * found within %.80s: *",
		 in + strlen("Matched Data: x found within "));
	assert_string_equal(mask(in), want);
	/* a name holding ':' ends at ": " */
	assert_string_equal(
	    mask("Matched Data: x found within ARGS:a:password: v"),
	    "Matched Data: * found within ARGS:a:password: *");
	/* the first " found within" names the field; a credential's
	 * "NAME: VALUE" in its value is starred still */
	assert_string_equal(
	    mask("Matched Data: x found within ARGS:q: y found within "
		 "ARGS:password: z"),
	    "Matched Data: x found within ARGS:q: y found within "
	    "ARGS:password: *");
	/* no ": " after the name, no name: nothing to go by */
	assert_string_equal(mask("Matched Data: x found within ARGS:token"),
			    "Matched Data: x found within ARGS:token");
	assert_string_equal(mask("Matched Data: x found within ARGS"),
			    "Matched Data: x found within ARGS");
	/* the masked form never outgrows the text: cut to its room */
	assert_string_equal(mask("Matched Data: x found within A:pin: "),
			    "Matched Data: * found within A:pin: ");
	assert_string_equal(mask(" found within ARGS:password: hunter2 h2"),
			    "Matched Data: * found within ARGS:passw");
}

/* A field the configuration names in secret_headers is masked as a
 * built-in credential's is: by its name in the message, and as a
 * "NAME: VALUE" pair; without the list, it is no credential. */
static void
test_mask_secret_headers(void **state)
{
	static const char *const extra[] = {"x-internal-key"};
	static const char m[] =
	    "Warning. Matched phrase \"etc/passwd\" at "
	    "REQUEST_HEADERS:X-Internal-Key. [file \"/r.conf\"] "
	    "[line \"1\"] [id \"930120\"] [msg \"OS File Access "
	    "Attempt\"] [data \"Matched Data: etc/passwd found within "
	    "REQUEST_HEADERS:X-Internal-Key: tok1/../etc/passwd\"] "
	    "[severity \"2\"]";
	struct sl_waf_hit h;
	char buf[128];

	(void)state;
	assert_int_equal(sl_waf_parse_msg_as(m, sizeof(m) - 1, &h, extra, 1),
			 1);
	assert_string_equal(h.data, "Matched Data: * found within "
				    "REQUEST_HEADERS:X-Internal-Key: *");
	assert_int_equal(sl_waf_parse_msg(m, sizeof(m) - 1, &h), 1);
	assert_non_null(strstr(h.data, "tok1"));
	/* a header line in a matched text: its value starred */
	snprintf(buf, sizeof(buf), "X-Internal-Key: tok1 or 1=1");
	sl_waf_mask_data_as(buf, strlen(buf), extra, 1);
	assert_string_equal(buf, "X-Internal-Key: ***********");
	/* the built-in names and the words stand with or without a list */
	snprintf(buf, sizeof(buf),
		 "Matched Data: x found within REQUEST_HEADERS:X-Session-Id: "
		 "s1");
	sl_waf_mask_data_as(buf, strlen(buf), extra, 1);
	assert_string_equal(buf, "Matched Data: * found within "
				 "REQUEST_HEADERS:X-Session-Id: *");
	snprintf(buf, sizeof(buf),
		 "Matched Data: x found within REQUEST_HEADERS:Apikey: k1");
	sl_waf_mask_data(buf, strlen(buf));
	assert_string_equal(
	    buf, "Matched Data: * found within REQUEST_HEADERS:Apikey: *");
}

/* A variable without a name (the target, the whole body): each
 * credential's NAME=VALUE has its value starred, its length kept. */
static void
test_mask_pairs(void **state)
{
	(void)state;
	assert_string_equal(
	    mask("Matched Data: /login found within REQUEST_URI: "
		 "/login?user=bob&password=hunter2&x=1"),
	    "Matched Data: /login found within REQUEST_URI: "
	    "/login?user=bob&password=*******&x=1");
	assert_string_equal(
	    mask("Matched Data: x found within REQUEST_BODY: "
		 "user=bob&api_key=abc123;token=&pin=1234 PIN=99"),
	    "Matched Data: x found within REQUEST_BODY: "
	    "user=bob&api_key=******;token=&pin=**** PIN=**");
	/* a field that is no credential's, pairs in its value */
	assert_string_equal(
	    mask("Matched Data: x found within REQUEST_HEADERS:X-Data: "
		 "a=1; session_id=xyz; shipping=4111111111111111"),
	    "Matched Data: x found within REQUEST_HEADERS:X-Data: "
	    "a=1; session_id=***; shipping=411111******1111");
	/* a quoted value is starred inside its quotes */
	assert_string_equal(mask("x token='abc' y"), "x token='***' y");
	/* to its closing quote, spaces and commas included (a JSON body
	 * matched whole); a header's value to the end of the text */
	assert_string_equal(
	    mask("{\\x22password\\x22:\\x22correct horse, staple\\x22}"),
	    "{\\x22password\\x22:\\x22*********************\\x22}");
	assert_string_equal(mask("\"authorization\":\"Bearer eyJabc.def\""),
			    "\"authorization\":\"*****************\"");
	assert_string_equal(mask("Authorization: Bearer eyJabc.def"),
			    "Authorization: *****************");
	assert_string_equal(mask("x 'token=abc' y"), "x 'token=***' y");
	/* no name, no value */
	assert_string_equal(mask("=abc&=&"), "=abc&=&");
}

/* ---- sl_waf_msg_score ---------------------------------------------------- */

static void
test_msg_score(void **state)
{
	(void)state;
	assert_int_equal(
	    sl_waf_msg_score("Inbound Anomaly Score Exceeded (Total Score: 5)"),
	    5);
	assert_int_equal(sl_waf_msg_score("(Total Score: 25)"), 25);
	assert_int_equal(sl_waf_msg_score("Total Score: 0"), 0);
	assert_int_equal(sl_waf_msg_score("Total Score: 99999"), 99999);
	/* digits read until the value passes 99999: no overflow */
	assert_int_equal(sl_waf_msg_score("Total Score: 123456"), 123456);
	assert_int_equal(sl_waf_msg_score("Total Score: 99999999999999999999"),
			 999999);
	assert_int_equal(sl_waf_msg_score("Total Score: "), -1);
	assert_int_equal(sl_waf_msg_score("Total Score: x5"), -1);
	assert_int_equal(sl_waf_msg_score("Total Score:5"), -1);
	assert_int_equal(sl_waf_msg_score("total score: 5"), -1);
	assert_int_equal(
	    sl_waf_msg_score("SQL Injection Attack Detected via libinjection"),
	    -1);
	assert_int_equal(sl_waf_msg_score(""), -1);
	/* the first one said */
	assert_int_equal(sl_waf_msg_score("Total Score: 7, Total Score: 9"), 7);
}

/*
 * Defects of src/edge/waf.c found writing these tests, each a
 * credential's value that reached the WAF log (fixed in waf.c).
 */

/* A JSON body's "pin" is ARGS:json.pin: "exactly pin" misses it. */
static void
test_bug_json_pin(void **state)
{
	struct sl_waf_hit h;

	(void)state;
	assert_int_equal(parse(M_JSON_PIN, &h), 1);
	assert_string_equal(h.data,
			    "Matched Data: * found within ARGS:json.pin: *");
}

/* ModSecurity cut the data at 200 bytes, before " found within
 * ARGS:password" (sluice's own cut at 159 does the same to a shorter
 * one): the password's text is kept. The message still names the
 * variable ("against variable `ARGS:password'"). */
static void
test_bug_data_cut(void **state)
{
	struct sl_waf_hit h;

	(void)state;
	assert_int_equal(parse(M_DATA_CUT, &h), 1);
	assert_null(strstr(h.data, "union select a,a,a"));
}

/* A JSON body matched whole (rule 921110 on REQUEST_BODY): its members
 * are not NAME=VALUE pairs (and '"' is \x22 in the data). */
static void
test_bug_json_body(void **state)
{
	struct sl_waf_hit h;

	(void)state;
	assert_int_equal(parse(M_JSON_BODY, &h), 1);
	assert_null(strstr(h.data, "hunter2"));
}

#ifdef HAVE_MODSECURITY

/* ---- rule sets and requests, with libmodsecurity ------------------------- */

static char dir[64]; /* the test's temporary directory */
static char good[128], bad[128], noid[128], audit_conf[128], audit_log[128];
static struct sl_waf_rules *own; /* good's set */

/* The test's own rules: ids 1001.. (ModSecurity's local range). */
static const char good_rules[] =
    "# a word in any argument: 406, the data as the Core Rule Set writes it\n"
    "SecRule ARGS \"@rx attack\" \"id:1001,phase:2,deny,status:406,"
    "capture,severity:2,msg:'attack word',logdata:'Matched Data: %{TX.0} "
    "found within %{MATCHED_VAR_NAME}: %{MATCHED_VAR}'\"\n"
    "SecRule REQUEST_HEADERS:X-Block \"@streq yes\" "
    "\"id:1002,phase:1,deny,status:429,msg:'blocked at the head'\"\n"
    "SecRule REQUEST_BODY \"@rx .\" \"id:1003,phase:2,pass,log,"
    "msg:'body seen'\"\n"
    "SecRule ARGS:json.card.number \"@rx ^4\" \"id:1004,phase:2,deny,"
    "status:403,msg:'json card',logdata:'Matched Data: %{MATCHED_VAR} "
    "found within %{MATCHED_VAR_NAME}: %{MATCHED_VAR}'\"\n"
    "SecRule REQUEST_HEADERS:X-Status \"@rx .\" \"id:1005,phase:1,deny,"
    "status:302,msg:'not an error status'\"\n"
    "SecRule REQUEST_HEADERS:X-Score \"@rx ^([0-9]+)$\" \"id:1006,phase:1,"
    "pass,log,capture,msg:'Inbound Anomaly Score Exceeded (Total Score: "
    "%{TX.1})'\"\n"
    "SecRule ARGS \"@rx dup\" \"id:1007,phase:2,pass,log,msg:'dup'\"\n"
    "SecRule REQUEST_HEADERS:X-Five \"@rx .\" \"id:1008,phase:5,pass,log,"
    "msg:'phase five'\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1010,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1011,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1012,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1013,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1014,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1015,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1016,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1017,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1018,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Many \"@rx .\" \"id:1019,phase:1,pass,log\"\n"
    "SecRule REQUEST_HEADERS:X-Conn \"@rx .\" \"id:1020,phase:1,pass,log,"
    "msg:'%{REMOTE_ADDR}:%{REMOTE_PORT} %{SERVER_ADDR}:%{SERVER_PORT} "
    "%{REQUEST_METHOD} %{REQUEST_PROTOCOL}'\"\n";

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static int
setup(void **state)
{
	char text[512], err[512];
	const char *files[1];

	(void)state;
	strcpy(dir, "/tmp/sl-test-waf-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(good, sizeof(good), "%s/good.conf", dir);
	snprintf(bad, sizeof(bad), "%s/bad.conf", dir);
	snprintf(noid, sizeof(noid), "%s/noid.conf", dir);
	snprintf(audit_conf, sizeof(audit_conf), "%s/audit.conf", dir);
	snprintf(audit_log, sizeof(audit_log), "%s/audit.log", dir);
	write_file(good, good_rules);
	write_file(bad, "SecRule ARGS \"@rx x\" \"id:1,phase:2,deny\"\n"
			"SecRule ARGS \"@rx y\" \"id:2,nosuchaction\"\n");
	write_file(noid, "SecRule ARGS \"@rx x\" \"phase:2,deny\"\n");
	snprintf(text, sizeof(text),
		 "SecAuditEngine On\nSecAuditLogType Serial\n"
		 "SecAuditLogParts ABZ\nSecAuditLog %s\n",
		 audit_log);
	write_file(audit_conf, text);
	files[0] = good;
	if ((own = sl_waf_rules_load(files, 1, NULL, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "test_waf: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	DIR *d;
	struct dirent *e;
	char path[512];

	(void)state;
	sl_waf_rules_unref(own);
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", dir,
					 e->d_name);
				unlink(path);
			}
		closedir(d);
	}
	rmdir(dir);
	return 0;
}

/* Runs a request with rules: fields are name, value pairs ending with
 * NULL; body NULL for none. */
/* the transaction id run_on gives (NULL: the library's own) */
static const char *run_id;

static void
run_on(struct sl_waf_rules *rules, const char *method, const char *uri,
       const char *const *fields, const char *body, int logging,
       struct sl_waf_result *out)
{
	struct sl_waf_field f[16];
	struct sl_waf_input in = {
	    .client_ip = "192.0.2.7",
	    .server_ip = "198.51.100.1",
	    .client_port = 40000,
	    .server_port = 8080,
	    .method = method,
	    .uri = uri,
	    .version = "1.1",
	    .fields = f,
	    .body = body,
	    .blen = body != NULL ? strlen(body) : 0,
	    .logging = logging,
	    .id = run_id,
	};
	size_t n = 0;

	f[n++] = (struct sl_waf_field){"Host", "shop.example", 4, 12};
	for (; fields != NULL && fields[0] != NULL; fields += 2) {
		assert_true(n < sizeof(f) / sizeof(f[0]));
		f[n++] = (struct sl_waf_field){fields[0], fields[1],
					       (uint32_t)strlen(fields[0]),
					       (uint32_t)strlen(fields[1])};
	}
	in.nfields = n;
	memset(out, 0xa5, sizeof(*out)); /* what is not set shows */
	sl_waf_run(rules, &in, out);
	assert_int_equal(out->error, 0);
	assert_true(out->nhits <= SL_WAF_HITS);
}

static void
run(const char *method, const char *uri, const char *const *fields,
    const char *body, struct sl_waf_result *out)
{
	run_on(own, method, uri, fields, body, 0, out);
}

static const struct sl_waf_hit *
hit(const struct sl_waf_result *r, uint32_t id)
{
	for (unsigned i = 0; i < r->nhits; i++)
		if (r->hits[i].id == id)
			return &r->hits[i];
	return NULL;
}

static void
test_load(void **state)
{
	char err[512];
	const char *files[2];
	struct sl_waf_rules *r;

	(void)state;
	assert_int_equal(sl_waf_available(), 1);
	/* a broken file: FILE:LINE: what ModSecurity said */
	files[0] = bad;
	err[0] = '\0';
	assert_null(sl_waf_rules_load(files, 1, NULL, err, sizeof(err)));
	assert_int_equal(strncmp(err, bad, strlen(bad)), 0);
	assert_int_equal(strncmp(err + strlen(bad), ":2: ", 4), 0);
	assert_non_null(strstr(err, "Expecting an action"));
	assert_non_null(strstr(err, "nosuchaction"));
	assert_null(strchr(err, '\n'));
	/* the second of two files: that one named */
	files[0] = good;
	files[1] = bad;
	assert_null(sl_waf_rules_load(files, 2, NULL, err, sizeof(err)));
	assert_int_equal(strncmp(err, bad, strlen(bad)), 0);
	/* a rule without an id: ModSecurity's other form of place */
	files[0] = noid;
	assert_null(sl_waf_rules_load(files, 1, NULL, err, sizeof(err)));
	assert_int_equal(strncmp(err, noid, strlen(noid)), 0);
	assert_int_equal(strncmp(err + strlen(noid), ":1: ", 4), 0);
	assert_non_null(strstr(err, "must have an ID"));
	/* a missing file, a directory */
	snprintf(err, sizeof(err), "%s/missing.conf", dir);
	{
		char path[128];
		snprintf(path, sizeof(path), "%s", err);
		files[0] = path;
		assert_null(
		    sl_waf_rules_load(files, 1, NULL, err, sizeof(err)));
		assert_int_equal(strncmp(err, path, strlen(path)), 0);
		assert_non_null(strstr(err, "Failed to open"));
	}
	files[0] = dir;
	assert_null(sl_waf_rules_load(files, 1, NULL, err, sizeof(err)));
	assert_int_equal(strncmp(err, dir, strlen(dir)), 0);
	/* a small room for the error: cut, terminated */
	files[0] = bad;
	memset(err, 'x', sizeof(err));
	assert_null(sl_waf_rules_load(files, 1, NULL, err, 8));
	assert_int_equal(strlen(err), 7);
	/* no files: sluice's own directives alone */
	r = sl_waf_rules_load(NULL, 0, NULL, err, sizeof(err));
	assert_non_null(r);
	/* counted: the last unref frees it (ASan sees a leak or a reuse) */
	sl_waf_rules_ref(r);
	sl_waf_rules_unref(r);
	sl_waf_rules_unref(r);
	sl_waf_rules_unref(NULL);
}

/* rules_error's forms of ModSecurity's errors. */
static void
test_rules_error(void **state)
{
	char err[128];

	(void)state;
	rules_error("Rules error. File: /r/a.conf. Line: 12. Column: 3. "
		    "Invalid input:  bogus\n",
		    "/r/a.conf", err, sizeof(err));
	assert_string_equal(err, "/r/a.conf:12: Invalid input:  bogus");
	rules_error("Rules error. File: /r/a.conf. Line: 7. Expecting x",
		    "/r/a.conf", err, sizeof(err));
	assert_string_equal(err, "/r/a.conf:7: Expecting x");
	rules_error("Rules must have an ID. File: x at line: 2\n", "/r/b.conf",
		    err, sizeof(err));
	assert_string_equal(err, "/r/b.conf:2: Rules must have an ID.");
	rules_error("Failed to open the file: /r/c.conf\n\n", "/r/c.conf", err,
		    sizeof(err));
	assert_string_equal(err,
			    "/r/c.conf: Failed to open the file: /r/c.conf");
	rules_error(NULL, "/r/d.conf", err, sizeof(err));
	assert_string_equal(err, "/r/d.conf: the rules could not be loaded");
	rules_error("Rules error. File: /r/a.conf. Line: 3.", "/r/a.conf", err,
		    sizeof(err));
	assert_string_equal(err, "/r/a.conf:3:");
	/* the directive's closing quote, which ModSecurity's parser error
	 * ends with, dropped; a quote that closes one kept */
	rules_error("Rules error. File: /r/a.conf. Line: 2. Column: 30. "
		    "Expecting an action, got:  nosuchaction\"",
		    "/r/a.conf", err, sizeof(err));
	assert_string_equal(err, "/r/a.conf:2: Expecting an action, got:  "
				 "nosuchaction");
	rules_error("Rules error. File: /r/a.conf. Line: 2. Column: 30. "
		    "Unknown variable \"X\"",
		    "/r/a.conf", err, sizeof(err));
	assert_string_equal(err, "/r/a.conf:2: Unknown variable \"X\"");
	/* no name said: the file being loaded */
	rules_error("Rules error. File: . Line: 4. Column: 1. Bad", "/r/e.conf",
		    err, sizeof(err));
	assert_string_equal(err, "/r/e.conf:4: Bad");
}

static void
test_exclusions(void **state)
{
	const char *files[1] = {good};
	struct sl_waf_result out;
	struct sl_waf_rules *r;
	char err[512];

	(void)state;
	/* the rule removed */
	r = sl_waf_rules_load(files, 1, "SecRuleRemoveById 1001\n", err,
			      sizeof(err));
	assert_non_null(r);
	run_on(r, "GET", "/x?q=attack", NULL, NULL, 0, &out);
	assert_int_equal(out.intervention, 0);
	assert_null(hit(&out, 1001));
	sl_waf_rules_unref(r);
	/* one variable out of the rule's sight: the others still seen */
	r = sl_waf_rules_load(files, 1,
			      "SecRuleUpdateTargetById 1001 \"!ARGS:q\"\n"
			      "SecRuleUpdateTargetById 1004 "
			      "\"!ARGS:json.card.number\"\n",
			      err, sizeof(err));
	assert_non_null(r);
	run_on(r, "GET", "/x?q=attack", NULL, NULL, 0, &out);
	assert_int_equal(out.intervention, 0);
	run_on(r, "GET", "/x?r=attack", NULL, NULL, 0, &out);
	assert_int_equal(out.intervention, 1);
	assert_non_null(hit(&out, 1001));
	{
		static const char *const json[] = {"Content-Type",
						   "application/json", NULL};
		run_on(r, "POST", "/pay", json,
		       "{\"card\":{\"number\":\"4111111111111111\"}}", 0, &out);
		assert_int_equal(out.intervention, 0);
		assert_null(hit(&out, 1004));
	}
	sl_waf_rules_unref(r);
	/* the set without them is untouched */
	run("GET", "/x?q=attack", NULL, NULL, &out);
	assert_int_equal(out.intervention, 1);
	/* exclusions ModSecurity refuses */
	assert_null(
	    sl_waf_rules_load(files, 1, "bogus directive\n", err, sizeof(err)));
	assert_true(err[0] != '\0');
	assert_null(sl_waf_rules_load(
	    files, 1, "SecRule ARGS \"@rx x\" \"phase:2,deny\"\n", err,
	    sizeof(err)));
	assert_string_equal(err,
			    "the route's exclusions:1: Rules must have an ID.");
	/* empty: none */
	r = sl_waf_rules_load(files, 1, "", err, sizeof(err));
	assert_non_null(r);
	sl_waf_rules_unref(r);
}

static void
test_run_intervention(void **state)
{
	struct sl_waf_result out;
	const struct sl_waf_hit *h;

	(void)state;
	run("GET", "/search?q=an+attack", NULL, NULL, &out);
	assert_int_equal(out.intervention, 1);
	assert_int_equal(out.status, 406);
	assert_int_equal(out.score, -1);
	assert_non_null(h = hit(&out, 1001));
	assert_int_equal(h->severity, 2);
	assert_string_equal(h->msg, "attack word");
	assert_string_equal(
	    h->data, "Matched Data: attack found within ARGS:q: an attack");
	assert_int_equal(out.more, 0);
	/* a credential's value: not in the hit */
	run("POST", "/login",
	    (const char *const[]){"Content-Type",
				  "application/x-www-form-"
				  "urlencoded",
				  NULL},
	    "user=bob&password=attack4111111111111111", &out);
	assert_int_equal(out.intervention, 1);
	assert_non_null(h = hit(&out, 1001));
	assert_string_equal(h->data,
			    "Matched Data: * found within ARGS:password: *");
	/* a status that is no error's: 403 */
	run("GET", "/", (const char *const[]){"X-Status", "1", NULL}, NULL,
	    &out);
	assert_int_equal(out.intervention, 1);
	assert_int_equal(out.status, 403);
	assert_non_null(hit(&out, 1005));
}

static void
test_run_pass(void **state)
{
	struct sl_waf_result out;
	const struct sl_waf_hit *h;

	(void)state;
	run("GET", "/search?q=shoes", NULL, NULL, &out);
	assert_int_equal(out.intervention, 0);
	assert_int_equal(out.status, 0);
	assert_int_equal(out.score, -1);
	assert_int_equal(out.nhits, 0);
	assert_int_equal(out.more, 0);
	/* hits without an intervention, the score a message says */
	run("GET", "/", (const char *const[]){"X-Score", "12", NULL}, NULL,
	    &out);
	assert_int_equal(out.intervention, 0);
	assert_int_equal(out.score, 12);
	assert_non_null(h = hit(&out, 1006));
	assert_string_equal(h->msg,
			    "Inbound Anomaly Score Exceeded (Total Score: 12)");
	/* a rule that says no severity: ModSecurity 3.0.9 writes "0" */
	assert_int_equal(h->severity, 0);
	/* one hit a rule, however many variables it matched */
	run("GET", "/?a=dup&b=dup&c=dup", NULL, NULL, &out);
	assert_int_equal(out.nhits, 1);
	assert_non_null(hit(&out, 1007));
	/* eight kept, the rest counted */
	run("GET", "/", (const char *const[]){"X-Many", "1", NULL}, NULL, &out);
	assert_int_equal(out.intervention, 0);
	assert_int_equal(out.nhits, SL_WAF_HITS);
	assert_int_equal(out.more, 10 - SL_WAF_HITS);
	for (unsigned i = 0; i < out.nhits; i++)
		assert_int_equal(out.hits[i].id, 1010 + i);
	/* and every id, in order */
	assert_int_equal(out.nids, 10);
	assert_int_equal(out.ids_left, 0);
	for (unsigned i = 0; i < out.nids; i++)
		assert_int_equal(out.ids[i], 1010 + i);
	/* what the connection and the request line say reach the rules */
	run("PUT", "/", (const char *const[]){"X-Conn", "1", NULL}, NULL, &out);
	assert_non_null(h = hit(&out, 1020));
	assert_string_equal(h->msg,
			    "192.0.2.7:40000 198.51.100.1:8080 PUT HTTP/1.1");
}

static void
test_run_phase1(void **state)
{
	static const char *const form[] = {
	    "Content-Type", "application/x-www-form-urlencoded", NULL};
	static const char *const block[] = {"Content-Type",
					    "application/x-www-form-urlencoded",
					    "X-Block", "yes", NULL};
	struct sl_waf_result out;

	(void)state;
	/* the body seen when the head passes */
	run("POST", "/form", form, "q=hello", &out);
	assert_int_equal(out.intervention, 0);
	assert_non_null(hit(&out, 1003));
	run("POST", "/form", form, "q=attack", &out);
	assert_int_equal(out.status, 406);
	/* a phase 1 intervention: the body never looked at */
	run("POST", "/form", block, "q=attack", &out);
	assert_int_equal(out.intervention, 1);
	assert_int_equal(out.status, 429);
	assert_non_null(hit(&out, 1002));
	assert_null(hit(&out, 1001));
	assert_null(hit(&out, 1003));
	assert_int_equal(out.nhits, 1);
	/* no body at all: phase 2 still runs */
	run("GET", "/x?q=attack", NULL, NULL, &out);
	assert_int_equal(out.status, 406);
}

static void
test_run_json(void **state)
{
	static const char body[] =
	    "{\"card\":{\"number\":\"4111111111111111\"},\"note\":\"hi\"}";
	struct sl_waf_result out;
	const struct sl_waf_hit *h;

	(void)state;
	/* rule 77001: application/json to the JSON processor */
	run("POST", "/pay",
	    (const char *const[]){"Content-Type", "application/json", NULL},
	    body, &out);
	assert_int_equal(out.intervention, 1);
	assert_int_equal(out.status, 403);
	assert_non_null(h = hit(&out, 1004));
	assert_string_equal(h->msg, "json card");
	/* the card number masked wherever it stands */
	assert_string_equal(h->data,
			    "Matched Data: 411111******1111 found within "
			    "ARGS:json.card.number: 411111******1111");
	/* application/...+json and a charset, any case */
	run("POST", "/pay",
	    (const char *const[]){"Content-Type",
				  "Application/VND.API+JSON; charset=utf-8",
				  NULL},
	    body, &out);
	assert_non_null(hit(&out, 1004));
	/* a JSON field holding a credential */
	run("POST", "/pay",
	    (const char *const[]){"Content-Type", "application/json", NULL},
	    "{\"auth\":{\"token\":\"attack\"}}", &out);
	assert_non_null(h = hit(&out, 1001));
	assert_string_equal(
	    h->data, "Matched Data: * found within ARGS:json.auth.token: *");
	/* another type: no JSON argument */
	run("POST", "/pay",
	    (const char *const[]){"Content-Type", "text/plain", NULL}, body,
	    &out);
	assert_null(hit(&out, 1004));
	assert_int_equal(out.intervention, 0);
	/* JSON that does not parse: ModSecurity's own verdict, no crash */
	run("POST", "/pay",
	    (const char *const[]){"Content-Type", "application/json", NULL},
	    "{\"card\":", &out);
	assert_null(hit(&out, 1004));
}

static long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void
test_run_logging(void **state)
{
	const char *files[2] = {audit_conf, good};
	struct sl_waf_rules *r;
	struct sl_waf_result out;
	char err[512];
	long before;

	(void)state;
	/* phase 5 runs only when asked */
	run_on(own, "GET", "/", (const char *const[]){"X-Five", "1", NULL},
	       NULL, 0, &out);
	assert_null(hit(&out, 1008));
	run_on(own, "GET", "/", (const char *const[]){"X-Five", "1", NULL},
	       NULL, 1, &out);
	assert_non_null(hit(&out, 1008));
	/* and with it the audit log the rule files configure is written */
	r = sl_waf_rules_load(files, 2, NULL, err, sizeof(err));
	assert_non_null(r);
	before = file_size(audit_log);
	run_on(r, "GET", "/x?q=attack", NULL, NULL, 0, &out);
	assert_int_equal(out.status, 406);
	assert_int_equal(file_size(audit_log), before);
	run_on(r, "GET", "/x?q=attack", NULL, NULL, 1, &out);
	assert_int_equal(out.status, 406);
	assert_true(file_size(audit_log) > (before > 0 ? before : 0));
	/* the transaction's id is the request's: the audit log says it */
	run_id = "5a336c07b30cec2d424600c34a31e23a";
	run_on(r, "GET", "/x?q=attack", NULL, NULL, 1, &out);
	run_id = NULL;
	{
		FILE *fp = fopen(audit_log, "r");
		char buf[65536];
		size_t n;
		assert_non_null(fp);
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		assert_non_null(
		    strstr(buf, "5a336c07b30cec2d424600c34a31e23a"));
	}
	sl_waf_rules_unref(r);
}

/* Many threads on one set at once (waf.h: thread safe). */
struct runner {
	struct sl_waf_rules *rules;
	int bad;
};

static void *
runner_main(void *arg)
{
	struct runner *ru = arg;
	struct sl_waf_field f = {"Host", "a", 4, 1};
	struct sl_waf_input in = {
	    "192.0.2.1", "192.0.2.2", 1, 2, "GET", NULL, "1.1", &f,
	    1,		 NULL,	      0, 0, NULL,  0,	 NULL,	0};
	struct sl_waf_result out;

	for (int i = 0; i < 50; i++) {
		in.uri = i % 2 ? "/x?q=attack" : "/x?q=fine";
		sl_waf_run(ru->rules, &in, &out);
		if (out.error || out.intervention != i % 2 ||
		    (i % 2 && (out.status != 406 || out.nhits != 1 ||
			       out.hits[0].id != 1001)))
			ru->bad++;
	}
	return NULL;
}

static void
test_run_threads(void **state)
{
	pthread_t th[4];
	struct runner ru[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		ru[i] = (struct runner){own, 0};
		sl_waf_rules_ref(own); /* as a WAF thread holds it */
		assert_int_equal(
		    pthread_create(&th[i], NULL, runner_main, &ru[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(ru[i].bad, 0);
		sl_waf_rules_unref(own);
	}
}

/* The Core Rule Set as Debian installs it, when it is there. */
static void
test_run_crs(void **state)
{
	static const char setup_conf[] = "/etc/modsecurity/crs/crs-setup.conf";
	const char *files[64];
	size_t n = 0;
	glob_t g;
	struct sl_waf_rules *r;
	struct sl_waf_result out;
	char err[512];
	const struct sl_waf_hit *h;

	(void)state;
	if (access(setup_conf, R_OK) != 0 ||
	    glob("/usr/share/modsecurity-crs/rules/*.conf", 0, NULL, &g) != 0) {
		skip();
		return;
	}
	files[n++] = setup_conf;
	for (size_t i = 0; i < g.gl_pathc && n < 64; i++)
		files[n++] = g.gl_pathv[i];
	r = sl_waf_rules_load(files, n, NULL, err, sizeof(err));
	globfree(&g);
	assert_non_null(r);

	run_on(r, "GET", "/search?q=1%27%20or%201=1--", NULL, NULL, 0, &out);
	assert_int_equal(out.intervention, 1);
	assert_int_equal(out.status, 403);
	assert_int_equal(out.score, 5);
	assert_non_null(h = hit(&out, 942100));
	assert_string_equal(
	    h->data, "Matched Data: s&1c found within ARGS:q: 1' or 1=1--");
	assert_non_null(h = hit(&out, 949110));
	assert_string_equal(h->msg,
			    "Inbound Anomaly Score Exceeded (Total Score: 5)");

	/* a JSON body's field, through rule 77001 */
	run_on(r, "POST", "/api/pay",
	       (const char *const[]){"Content-Type", "application/json",
				     "User-Agent", "t", "Accept", "*/*", NULL},
	       "{\"card\":{\"token\":\"x' or 1=1--\"}}", 0, &out);
	assert_int_equal(out.intervention, 1);
	assert_non_null(h = hit(&out, 942100));
	assert_string_equal(
	    h->data, "Matched Data: * found within ARGS:json.card.token: *");

	/* 920350 alone (score 3) stays under the threshold of 5 */
	{
		struct sl_waf_field f[3] = {{"Host", "10.1.2.3", 4, 8},
					    {"User-Agent", "t", 10, 1},
					    {"Accept", "*/*", 6, 3}};
		struct sl_waf_input in = {
		    "192.0.2.1", "10.1.2.3", 1, 80, "GET", "/", "1.1", f,
		    3,		 NULL,	     0, 0,  NULL,  0,	NULL,  0};
		sl_waf_run(r, &in, &out);
		assert_int_equal(out.intervention, 0);
		assert_non_null(h = hit(&out, 920350));
		assert_string_equal(h->data, "10.1.2.3");
	}
	/* a plain request passes */
	run_on(r, "GET", "/shoes?size=42",
	       (const char *const[]){"User-Agent", "Mozilla/5.0", "Accept",
				     "text/html", NULL},
	       NULL, 0, &out);
	assert_int_equal(out.intervention, 0);
	assert_int_equal(out.nhits, 0);
	sl_waf_rules_unref(r);
}

#else /* !HAVE_MODSECURITY */

static int
setup(void **state)
{
	(void)state;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return 0;
}

/* The stubs: no WAF, said so. */
static void
test_stubs(void **state)
{
	const char *files[1] = {"/etc/modsecurity/crs/crs-setup.conf"};
	struct sl_waf_input in = {0};
	struct sl_waf_result out;
	char err[512];

	(void)state;
	assert_int_equal(sl_waf_available(), 0);
	assert_null(sl_waf_rules_load(files, 1, NULL, err, sizeof(err)));
	assert_string_equal(err, "this sluice was built without "
				 "libmodsecurity (./configure "
				 "--with-modsecurity; Debian: "
				 "libmodsecurity-dev)");
	sl_waf_rules_ref(NULL);
	sl_waf_rules_unref(NULL);
	memset(&out, 0xa5, sizeof(out));
	sl_waf_run(NULL, &in, &out);
	assert_int_equal(out.error, 1);
	assert_int_equal(out.intervention, 0);
	assert_int_equal(out.nhits, 0);
}

#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_crs),
	    cmocka_unit_test(test_parse_masked),
	    cmocka_unit_test(test_parse_forged),
	    cmocka_unit_test(test_parse_truncated),
	    cmocka_unit_test(test_parse_fields),
	    cmocka_unit_test(test_mask_cards),
	    cmocka_unit_test(test_mask_credentials),
	    cmocka_unit_test(test_mask_secret_headers),
	    cmocka_unit_test(test_mask_pairs),
	    cmocka_unit_test(test_msg_score),
	    cmocka_unit_test(test_bug_json_pin),
	    cmocka_unit_test(test_bug_data_cut),
	    cmocka_unit_test(test_bug_json_body),
#ifdef HAVE_MODSECURITY
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_rules_error),
	    cmocka_unit_test(test_exclusions),
	    cmocka_unit_test(test_run_intervention),
	    cmocka_unit_test(test_run_pass),
	    cmocka_unit_test(test_run_phase1),
	    cmocka_unit_test(test_run_json),
	    cmocka_unit_test(test_run_logging),
	    cmocka_unit_test(test_run_threads),
	    cmocka_unit_test(test_run_crs),
#else
	    cmocka_unit_test(test_stubs),
#endif
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
