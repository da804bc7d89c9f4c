namespace EasyIm.Contracts.Friends;

/// <param name="OtherId">A user id (are <paramref name="UserId"/> and this user friends?) or, when
/// <paramref name="IsGroup"/>, a group id (is <paramref name="UserId"/> a member of this group?).</param>
public sealed record RelationshipQuery(long UserId, long OtherId, bool IsGroup);
