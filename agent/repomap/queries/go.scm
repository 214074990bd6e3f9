(function_declaration name: (identifier) @name.definition.function) @definition.function
(method_declaration name: (field_identifier) @name.definition.method) @definition.method
(type_spec name: (type_identifier) @name.definition.type) @definition.type
(method_elem name: (field_identifier) @name.definition.method) @definition.method

(call_expression function: (identifier) @name.reference.call)
(call_expression function: (selector_expression field: (field_identifier) @name.reference.call))
(selector_expression field: (field_identifier) @name.reference.attribute)
(type_identifier) @name.reference.type
(composite_literal type: (qualified_type name: (type_identifier) @name.reference.type))
