namespace EasyIm.Contracts.Auth;

/// <summary>
/// Looks users up by id, and by exact account (case-insensitive) when <paramref name="Accounts"/>
/// is given. Replies <see cref="UserProfiles"/> with the ones that exist.
/// </summary>
public sealed record GetUserProfiles(IReadOnlyList<long> UserIds, IReadOnlyList<string>? Accounts = null);
