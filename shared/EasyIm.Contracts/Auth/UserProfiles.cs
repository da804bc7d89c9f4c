namespace EasyIm.Contracts.Auth;

public sealed record UserProfiles(IReadOnlyList<UserProfile> Users);
