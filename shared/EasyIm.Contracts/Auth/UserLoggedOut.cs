namespace EasyIm.Contracts.Auth;

public sealed record UserLoggedOut(long UserId);
