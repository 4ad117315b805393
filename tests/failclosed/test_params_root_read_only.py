"""`params.root` cannot be changed by a rule function.

A field's checks share one `AuthParams`: its rule, its post rule, its
`grants=` function and its error hook. A rule that assigned `params.root`
(say, to reuse the parent post's rule for a comment) would make every check
after it read another object; the assignment fails instead, and the field is
denied as any rule function that raised.
"""

from typing import Any

import strawberry
from authzkit import codes, dump

from strawberry_authz import AuthExtension


def test_a_rule_assigning_params_root_is_denied_and_never_redirects_the_post_rule():
    authz = AuthExtension(lambda _: {})

    @strawberry.type
    class Post:
        author: strawberry.Private[str]
        public: strawberry.Private[bool]

    def post_is_public(params: Any) -> bool:
        return bool(params.root.public)

    def comment_on_a_public_post(params: Any) -> bool:
        params.root = params.root.post  # reuse the post's rule
        return post_is_public(params)

    @strawberry.type
    class Comment:
        author: strawberry.Private[str]
        post: strawberry.Private[Post]

        @authz.rule(comment_on_a_public_post)
        @authz.post_rule(lambda params, _: params.root.author == "me")
        @strawberry.field
        def text(self) -> str:
            return "SECRET"

    @strawberry.type
    class Query:
        @strawberry.field
        def comment(self) -> Comment:
            # Someone else's comment on my public post.
            return Comment(author="other", post=Post(author="me", public=True))

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ comment { text } }")
    assert result.data is None
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "SECRET" not in dump(result)
    assert "root" not in dump(result)  # the AttributeError's text is only logged
