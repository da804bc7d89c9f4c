namespace EasyIm.Contracts.Friends;

public sealed record RelationshipsChecked(IReadOnlyList<RelationshipAnswer> Answers);
