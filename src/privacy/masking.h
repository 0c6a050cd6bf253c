// Masking of personal data for display: what a role sees when it may know a field exists but
// not read it. Works on UTF-8 code points, so 张三 masks to 张* and never to broken bytes.
// Pure functions: thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace oc::privacy {

std::string MaskPhone(std::string_view phone);      // 13812345678 -> 138****5678
std::string MaskName(std::string_view name);        // 张三 -> 张*, John -> J***
std::string MaskIdNumber(std::string_view id);      // first 6 + last 2 kept
std::string MaskAddressDetail(std::string_view d);  // first 2 code points + ****
// Free text an operator typed (a reveal's reason, which the audit log keeps): every run of 7 or
// more digits, with an ID number's final X, keeps its first 3 and last 2 characters, and the
// rest becomes '*' ("客户13812345678来电" -> "客户138******78来电"). Phone and ID numbers are
// the personal data such text most often quotes; shorter numbers (a ticket, a date's parts)
// stay. Names cannot be told from other words, and stay too.
std::string MaskDigitRuns(std::string_view text);

}  // namespace oc::privacy
