namespace EasyIm.Contracts.Auth;

/// <summary>Creates a user. Replies <see cref="UserSessionIssued"/> or <see cref="RequestRejected"/>.</summary>
[CarriesSecret]
public sealed record RegisterUser(string Account, string Password, string Nickname);
