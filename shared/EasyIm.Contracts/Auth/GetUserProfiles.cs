namespace EasyIm.Contracts.Auth;

/// <summary>Looks users up by id. Replies <see cref="UserProfiles"/> with the ones that exist.</summary>
public sealed record GetUserProfiles(IReadOnlyList<long> UserIds);
