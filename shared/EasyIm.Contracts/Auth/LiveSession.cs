namespace EasyIm.Contracts.Auth;

/// <summary>What a gateway knows of a live connection's token: its user, login session and token version.</summary>
public sealed record LiveSession(long UserId, long SessionId, int TokenVersion);
