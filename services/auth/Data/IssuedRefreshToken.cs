namespace EasyIm.Auth.Data;

/// <summary>
/// A refresh token auth issued, known by its SHA-256 only (the token itself is never stored: a copy
/// of this table signs nobody in). The session's current one has no <see cref="ReplacedAtMs"/>; a
/// replaced one presented again is a stolen copy (or a retry within the grace).
/// </summary>
public sealed class IssuedRefreshToken
{
    /// <summary>SHA-256 of the token's text.</summary>
    public required byte[] TokenHash { get; set; }
    public long SessionId { get; set; }
    public long UserId { get; set; }
    public long IssuedAtMs { get; set; }
    public long ExpiresAtMs { get; set; }
    /// <summary>When a refresh replaced it with a new token; null while it is the session's current one.</summary>
    public long? ReplacedAtMs { get; set; }
}
