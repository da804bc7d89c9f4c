namespace EasyIm.Auth.Data;

/// <summary>
/// One login and every token descended from it (RFC 6819's token family): each refresh replaces the
/// session's refresh token with a new one, and all of them, with the access tokens issued beside
/// them, carry this id (the <c>sid</c> claim). Revoking the session ends them all.
/// </summary>
public sealed class LoginSession
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public long CreatedAtMs { get; set; }
    /// <summary>When the session's newest token expires; the row is pruned after it.</summary>
    public long ExpiresAtMs { get; set; }
    /// <summary>Set when a rotated refresh token of the session was presented again: every token of it stopped working.</summary>
    public long? RevokedAtMs { get; set; }
}
