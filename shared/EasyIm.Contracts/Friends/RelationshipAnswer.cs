namespace EasyIm.Contracts.Friends;

/// <param name="Related">Friends (or, when <paramref name="IsGroup"/>, a member of the group) right now.</param>
public sealed record RelationshipAnswer(long UserId, long OtherId, bool IsGroup, bool Related);
