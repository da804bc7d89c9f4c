namespace EasyIm.Contracts.Auth;

/// <summary>
/// Every token of one login session of the user stopped working: a refresh token of the session was
/// used again after it had been rotated, so someone else holds a copy. Gateways close the live
/// connections opened (or renewed) with a token of that session.
/// </summary>
public sealed record UserSessionRevoked(long UserId, long SessionId);
