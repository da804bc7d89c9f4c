namespace EasyIm.Contracts.Auth;

/// <summary>Replies <see cref="UserSessionIssued"/> or <see cref="RequestRejected"/> (401, alike for unknown account and wrong password).</summary>
[CarriesSecret]
public sealed record LoginUser(string Account, string Password);
