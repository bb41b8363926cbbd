// A real SMTP server for mail tests: Debian's python3-aiosmtpd on 127.0.0.1 writing each
// message into a maildir, with the envelope in X-MailFrom / X-RcptTo headers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "aterm/test/support.h"

namespace aterm::test {

// Starts the server on `port` (up once it accepts connections; throws otherwise), its log in
// `log`. With `pki`, it offers STARTTLS with the dev server certificate and refuses mail
// without it. -dd: every command it receives is in its log (">> b'EHLO ...'").
std::unique_ptr<process> smtp_server(int port, const fs::path& maildir, const fs::path& log,
                                     const dev_pki* pki = nullptr);

// The messages delivered into `maildir` so far, each as received (headers and body).
std::vector<std::string> maildir_messages(const fs::path& maildir);

// The text of a received message: its base64 body (the product's mail is UTF-8 text in base64)
// decoded; "" when the message has no body.
std::string decoded_body(const std::string& message);

}  // namespace aterm::test
