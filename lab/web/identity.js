// Keep this browser's lab identity in a cookie (lab/identity.py): a random token, no login. The
// server reads it when a page connects, so a reload or a new tab finds the same runs.
export default function ({ data: [data] }) {
  const have = document.cookie.split("; ").find(c => c.startsWith(data.name + "="));
  if (have !== data.name + "=" + data.token) {
    document.cookie = `${data.name}=${data.token}; path=/; max-age=${data.max_age}; samesite=strict`;
  }
}
