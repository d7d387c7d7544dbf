"""The words of ``certsmith --help``: the overview and one line per subcommand.

Plain data, imported by :mod:`certsmith.cli.args` (which answers ``--help`` and ``--version``
before any flag table or option class is imported, so ``certsmith --help`` stays fast).
"""

from __future__ import annotations

VERB_ALIASES = {"auth": "certonly", "rollover": "update_account", "everything": "run"}

VERB_HELP: dict[str, str] = {
    "certonly": "Obtain or renew a certificate and save it; never touches a web server.",
    "renew": "Renew every certificate that is near expiry (or the one named by --cert-name).",
    "certificates": "List the certificates certsmith manages (--json for a stable schema).",
    "revoke": "Revoke a certificate (supply --cert-name or --cert-path).",
    "delete": "Delete a certificate's files (supply --cert-name).",
    "register": "Create an ACME account.",
    "show_account": "Show the ACME account's URI and contacts.",
    "update_account": "Change the account's e-mail, or roll its key over with --rollover-key "
    "('certsmith rollover' is a shorthand).",
    "unregister": "Deactivate the ACME account.",
    "caa-check": "Would CAA let the CA issue for DOMAIN? One JSON verdict; exit 0/1/2.",
    "doctor": "Run the pre-flight checks (CAA, DNS, wildcard method) for -d names, explained.",
    "run": "Obtain a certificate and install it into a web server (--nginx, --apache, -i NAME; "
    "-i null: nowhere). The default subcommand, as in certbot.",
    "install": "Install an existing certificate (--cert-name) into a web server.",
    "enhance": "Add --redirect, --hsts or --uir to a web server's sites for --cert-name.",
    "rollback": "Undo the last --checkpoints N changes an installer made to a web server.",
    "config_changes": "List the changes the installers made to a web server.",
    "plugins": "List the authenticators and installers certsmith has.",
    "reconfigure": "Change a certificate's renewal settings after a dry run with them succeeds.",
    "update_symlinks": "Point live/ links at one complete version again (all, or --cert-name).",
    "persist-record": "Print the dns-persist-01 TXT record(s) to publish once for -d names.",
    "notify": "Alerts: 'notify setup' writes the e-mail/webhook channels, 'notify test' sends one.",
    "report": "The status page: --html FILE writes it, --serve 127.0.0.1:PORT serves it.",
}

OVERVIEW = """usage:
  certsmith [SUBCOMMAND] [options] [-d DOMAIN] [-d DOMAIN] ...

certsmith obtains, renews and guards TLS certificates from ACME CAs; its command lines are
certbot's. The default subcommand is run (obtain and install; -i null installs nowhere).

obtain and renew certificates:
  certonly         {certonly}
  renew            {renew}
  -d DOMAINS       Comma-separated list of domains to obtain a certificate for
  --standalone     Answer http-01 with a built-in web server
  --webroot        Place files in a server's webroot folder (-w PATH)
  --manual         Answer challenges by hand or with --manual-auth-hook scripts
  --dns-rfc2136    Answer dns-01 with RFC 2136 dynamic updates
  -n               Run non-interactively
  --test-cert      Use the Let's Encrypt staging server
  --dry-run        Test "renew" or "certonly" without saving any certificates

manage certificates:
  certificates     {certificates}
  revoke           {revoke}
  delete           {delete}
  caa-check        {caa_check}
  doctor           {doctor}
  persist-record   {persist_record}
  notify           {notify}
  report           {report}

manage your account:
  register         {register}
  unregister       {unregister}
  update_account   {update_account}
  show_account     {show_account}
  --agree-tos      Agree to the ACME server's Subscriber Agreement
  -m EMAIL         Email address for important account notifications

install into web servers:
  run              {run}
  install          {install}
  enhance          {enhance}
  rollback         {rollback}
  --nginx          Obtain and install with nginx
  --apache         Obtain and install with apache
  -i NAME          Installer: nginx, apache, or null

  plugins          {plugins}
  reconfigure      {reconfigure}
  update_symlinks  {update_symlinks}

  -h, --help [TOPIC]  this message, 'all', or a subcommand's flags (certsmith --help renew)
  --version           print the version number
""".format(**{k.replace("-", "_"): v for k, v in VERB_HELP.items()})
