namespace EasyIm.Contracts.Friends;

/// <summary>
/// Asked by messaging before it refuses a chat message because its projection says two users are
/// not friends, or a user is not in a group: the projection may not have seen the latest
/// <see cref="FriendshipCreated"/> or <see cref="GroupMemberAdded"/> yet. Friends replies
/// <see cref="RelationshipsChecked"/> with one answer per query (any order; matched by the query's fields).
/// </summary>
public sealed record CheckRelationships(IReadOnlyList<RelationshipQuery> Queries);
